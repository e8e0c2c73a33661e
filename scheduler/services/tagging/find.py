"""Every resource of every registered service that carries a given tag (``isched tag --where``)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from .. import registry
from ..common import aws_error
from ..naming import Found
from .clients import Clients


class TaggingError(Exception):
    """An AWS failure that stops a whole operation (listing resources for ``--where``)."""


def find_where(key: str, value: str, region: str | None = None, clients: Clients | None = None) -> list[Found]:
    """Every resource of every service in ``region`` with tag ``key=value`` (EC2 instances not terminated, RDS DB
    instances not in a cluster), sorted by kind and id.

    Raises :class:`TaggingError` when a listing fails (a partial list would silently miss resources).
    """
    clients = clients or Clients()
    region = region or clients.default_region()
    found: list[Found] = []
    for service in registry.all_services():
        for what, resources in service.find_tagged(clients, region, key, value):
            try:
                # Filters run server-side where the API has them; the check here also covers RDS, which has none.
                found.extend(r for r in resources if r.tags.get(key) == value)
            except (ClientError, BotoCoreError) as exc:
                raise TaggingError(f"could not list {what} in {region}: {aws_error(exc)}") from exc
    order = {kind: i for i, kind in enumerate(registry.kind_names())}
    return sorted(found, key=lambda r: (order[r.kind], r.id))
