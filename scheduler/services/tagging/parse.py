"""RESOURCE arguments (an id, a name or an ARN) to references: where to look and, unless a bare name, for what kind."""

from __future__ import annotations

import re

from scheduler.aws import session as aws

from .. import registry
from ..naming import InvalidResource, Reference
from .words import either

_ARN = re.compile(
    r"^arn:(?P<partition>aws(?:-[a-z]+)*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<resource>.*)\Z"
)


def parse_target(value: str, region: str) -> Reference:
    """Parses one RESOURCE argument; ``region`` applies to ids and names (an ARN carries its own)."""
    text = value.strip()
    if not text:
        raise InvalidResource("an empty value names no resource")
    if text.startswith("arn:"):
        return parse_arn(value, text)
    for service in registry.all_services():
        kind = service.kind_of_id(text)
        if kind is not None:
            return Reference(value=value, region=region, id=text, kind=kind)
    return Reference(value=value, region=region, id=text)


def parse_arn(value: str, text: str) -> Reference:
    """Parses ARN ``text`` (``value`` as given, for messages) of a resource some registered service schedules."""
    m = _ARN.match(text)
    if m is None:
        raise InvalidResource(f"'{value}' is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)")
    arn_service, region, account, resource = m["service"], m["region"], m["account"], m["resource"]
    services = registry.all_services()
    service = next((s for s in services if s.arn_service == arn_service), None)
    if service is None:
        raise InvalidResource(
            f"'{value}' is an ARN of service '{arn_service}'; isched tags {either([s.plural for s in services], 'and')}"
        )
    if not aws.is_region(region):
        raise InvalidResource(f"'{value}' has no valid region ('{region}')")
    if not aws.is_account_id(account):
        raise InvalidResource(f"'{value}' has no valid account id ('{account}')")
    kind, ident = service.parse_arn(value, resource)
    return Reference(value=value, region=region, id=ident, kind=kind, arn=text, account=account)
