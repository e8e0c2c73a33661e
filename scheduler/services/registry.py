"""The one list of services: which module serves each, in the order the CLI, the report and the Lambda show them.

Every service is a module of this package that defines ``SERVICE``, an object satisfying
:class:`scheduler.services.base.Service` (discovery and actions through its adapter, lookup by id/name/ARN,
tag/untag). Modules are imported on first use, so a Lambda worker loads only its own service's code.

Adding a service: write its module (``redshift.py`` is the example to read; ``capacity.py`` serves services that
scale to zero), add one line to ``_MODULES`` below, and follow the other steps of README's "Adding a service"
(price list, IAM in both templates and ``scripts/check_policies.py``, tests, demo, README table).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import boto3

    from .base import Service, ServiceAdapter

_MODULES: dict[str, str] = {
    "ec2": "scheduler.services.ec2",
    "asg": "scheduler.services.asg",
    "rds": "scheduler.services.rds",
    "ecs": "scheduler.services.ecs",
    "eks": "scheduler.services.eks",
    "redshift": "scheduler.services.redshift",
    "sagemaker": "scheduler.services.sagemaker",
}

SERVICES: tuple[str, ...] = tuple(_MODULES)


class UnknownService(ValueError):
    """A service name that is not registered."""

    def __init__(self, name: object) -> None:
        super().__init__(not_a_service(name))
        self.name = name


def not_a_service(name: object, shown: str | None = None) -> str:
    """The message for a name that is not a service (``shown``: the name as the caller quotes it)."""
    quoted = shown if shown is not None else f"'{name}'"
    return f"{quoted} is not a service (one of {', '.join(SERVICES)})"


def get(name: str) -> Service:
    """The service called ``name`` (its module is imported now if it was not yet)."""
    if name not in _MODULES:
        raise UnknownService(name)
    return cast("Service", importlib.import_module(_MODULES[name]).SERVICE)


def all_services() -> list[Service]:
    return [get(name) for name in SERVICES]


def make_adapter(service: str, region: str, session: boto3.Session, **options: Any) -> ServiceAdapter:
    """The adapter of ``service`` for one region and account (``options``: deployment settings a service may use,
    e.g. ``snapshot_before_stop`` for RDS; others ignore what they do not know)."""
    return get(service).adapter(region, session, **options)


def of_kind(kind: str) -> Service:
    """The service that schedules resources of ``kind`` (kinds are unique across services)."""
    for service in all_services():
        if kind in service.kinds:
            return service
    raise ValueError(f"'{kind}' is not a kind of resource any service schedules")


def kind_names() -> dict[str, str]:
    """Every kind of every service with its name for people, in registry order."""
    return {kind: name for service in all_services() for kind, name in service.kinds.items()}
