"""Which adapter serves which service (imported lazily: a Lambda worker loads only its own service's code)."""

from __future__ import annotations

from typing import Any

import boto3

from scheduler.services.base import SERVICES, ServiceAdapter


def make_adapter(service: str, region: str, session: boto3.Session, **options: Any) -> ServiceAdapter:
    if service == "ec2":
        from scheduler.services.ec2 import Ec2Adapter

        return Ec2Adapter(region, session=session)
    if service == "asg":
        from scheduler.services.asg import AsgAdapter

        return AsgAdapter(region, session=session)
    if service == "rds":
        from scheduler.services.rds import RdsAdapter

        return RdsAdapter(region, session=session, snapshot_before_stop=bool(options.get("snapshot_before_stop")))
    raise ValueError(f"'{service}' is not a service (one of {', '.join(SERVICES)})")
