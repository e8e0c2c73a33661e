"""What keeps billing while an EC2 instance is stopped: read right after its stop (EBS volumes, Elastic IPs), and
the estimate of what that costs over the stopped hours."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .base import ServiceDetails
from .common import aws_error, chunks
from .ec2_details import StillBilling, typed_details

log = logging.getLogger(__name__)

# EBS, USD per GB-month at US East (N. Virginia) list rates (volume storage only: provisioned IOPS and throughput
# above the baseline, and snapshots, are extra and not estimated). AWS prorates a GB-month over 730 hours.
EBS_GB_MONTH = {
    "gp3": Decimal("0.08"),
    "gp2": Decimal("0.10"),
    "io1": Decimal("0.125"),
    "io2": Decimal("0.125"),
    "st1": Decimal("0.045"),
    "sc1": Decimal("0.015"),
    "standard": Decimal("0.05"),
}
HOURS_PER_MONTH = Decimal(730)
# A public IPv4 address, Elastic IPs included, USD per hour (since 2024-02-01). An instance's auto-assigned public
# address is released when it stops; an Elastic IP stays, and bills.
PUBLIC_IPV4_HOUR = Decimal("0.005")


def read_still_billing(ec2: Any, ids: list[str], filter_values: int) -> dict[str, StillBilling]:
    """What keeps billing while these instances are stopped: their EBS volumes (size, type) and Elastic IPs.

    For the savings report's estimate; read after the stop with DescribeVolumes and DescribeAddresses (filters
    of at most ``filter_values`` ids). Best effort: a refused or failed read leaves the estimate out and
    never fails the stop.
    """
    out: dict[str, StillBilling] = {i: {"volumes": [], "elastic_ips": 0} for i in ids}
    try:
        for chunk in chunks(ids, filter_values):
            pages = ec2.get_paginator("describe_volumes").paginate(
                Filters=[{"Name": "attachment.instance-id", "Values": chunk}],
                PaginationConfig={"PageSize": 500},
            )
            for page in pages:
                for vol in page.get("Volumes", []):
                    for att in vol.get("Attachments", []):
                        if att.get("InstanceId") in out:
                            out[att["InstanceId"]]["volumes"].append(
                                {
                                    "id": vol.get("VolumeId"),
                                    "size_gb": vol.get("Size"),
                                    "type": vol.get("VolumeType"),
                                }
                            )
            addresses = ec2.describe_addresses(Filters=[{"Name": "instance-id", "Values": chunk}])
            for addr in addresses.get("Addresses", []):
                if addr.get("InstanceId") in out:
                    out[addr["InstanceId"]]["elastic_ips"] += 1
    except (ClientError, BotoCoreError) as exc:
        log.info("what keeps billing while stopped could not be read: %s", aws_error(exc))
        return {}
    return out


def billing_while_stopped(details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
    """EBS volume storage and Elastic IPs, as the stop recorded them (DescribeVolumes/DescribeAddresses right
    after the stop), at US East list rates over the stopped hours."""
    what = "attached EBS volumes, and Elastic IPs"
    recorded = typed_details(details).get("billing_while_stopped")
    if recorded is None:
        return {
            "what": what,
            "estimated_cost": None,
            "note": "not estimated: the stop did not record the volumes and addresses (recorded since this "
            "version, or the role may not call DescribeVolumes/DescribeAddresses)",
        }
    total = Decimal(0)
    for vol in recorded["volumes"]:
        size, rate = vol["size_gb"], EBS_GB_MONTH.get(vol["type"] or "")
        if size is None or rate is None:
            return {
                "what": what,
                "estimated_cost": None,
                "note": f"not estimated: no size or rate for volume {vol['id']} ({vol['type']})",
            }
        total += stopped_hours * size * rate / HOURS_PER_MONTH
    addresses = recorded["elastic_ips"]
    total += stopped_hours * addresses * PUBLIC_IPV4_HOUR
    return {
        "what": what,
        "estimated_cost": total,
        "elastic_ips": addresses,
        "note": "EBS volume storage and Elastic IPs at US East (N. Virginia) list rates, over the stopped hours; "
        "provisioned IOPS/throughput and snapshots excluded",
    }
