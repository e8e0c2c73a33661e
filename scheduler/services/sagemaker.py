"""Amazon SageMaker notebook instances: discovery by tag, stop (StopNotebookInstance) and start.

A stopped notebook instance bills no instance-hours, only its ML storage volume. SageMaker has no batch stop or
start, and ListNotebookInstances neither filters by tag nor returns tags: discovery lists the notebook instances
(pages of 100) and reads each one's tags with ListTags. A notebook whose tags cannot be read is left out of that
pass with a warning; the others are scheduled as usual.

Notebook instance ARNs are lower case (``arn:aws:sagemaker:REGION:ACCOUNT:notebook-instance/name``) while the name
keeps the case it was given, so names are compared case-insensitively.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client
from scheduler.engine import Observed, State

from .base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from .common import aws_error, not_estimated, one_by_one, tag_each, tag_map
from .details import mapping
from .naming import ClientSource, Found, Operation, TagCall, match_arn
from .price_list import by_instance_type, types_like
from .pricing import Component, PriceQuery, Pricing, whole

log = logging.getLogger(__name__)


class StillBilling(TypedDict):
    """What keeps billing while a notebook instance is stopped, as its stop records it."""

    volume_gb: int


class SageMakerDetails(TypedDict, total=False):
    """What a notebook instance's ``details`` hold (``billing_while_stopped``: its stop's)."""

    kind: Literal["notebook-instance"]
    status: str | None
    billing_while_stopped: StillBilling
    tags: dict[str, str]  # added by the worker to what it stores


def _details(details: Mapping[str, object]) -> SageMakerDetails:
    """The keys the stopped-billing estimate reads, as typed (a ledger entry's details, numbers as DynamoDB's
    Decimals; a value of another type reads as absent)."""
    out: SageMakerDetails = {}
    recorded = mapping(details, "billing_while_stopped")
    if recorded is not None and (gb := whole(recorded.get("volume_gb"))) is not None:
        out["billing_while_stopped"] = {"volume_gb": gb}
    return out


# ListNotebookInstances MaxResults: 1-100; ListTags MaxResults: 50 or more (API reference; 100 is the largest page).
PAGE_SIZE = 100
TAGS_PAGE_SIZE = 100
# Tag values: at most 256 Unicode letters, digits, white space and _ . : / = + - @ (SageMaker API reference, Tag).
TAG_VALUE_MAX = 256
_TAG_VALUE_BAD = re.compile(r"[^\w .:/=+\-@]")

# ML storage (general purpose SSD) of notebook instances, USD per GB-month at the US East (N. Virginia) list rate.
# AWS prorates a GB-month over 730 hours.
ML_STORAGE_GB_MONTH = Decimal("0.14")
HOURS_PER_MONTH = Decimal(730)

# NotebookInstanceStatus values. Failed, Updating, Deleting and maintenance states are states nothing can be done
# from now (StartNotebookInstance needs Stopped, StopNotebookInstance InService).
_OBSERVED = {
    "inservice": Observed.RUNNING,
    "stopped": Observed.STOPPED,
    "pending": Observed.STARTING,
    "stopping": Observed.STOPPING,
}

# Notebook instance names: up to 63 letters, digits and hyphens, starting and ending with a letter or digit
# (API reference: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*).
_NAME = re.compile(r"^[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}\Z")
_ARN_RESOURCE = re.compile(r"^notebook-instance/(?P<id>[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62})\Z")
# ML instance types: ml.FAMILY.SIZE (ml.t3.medium, ml.p4d.24xlarge, ml.g5.xlarge).
_ML_TYPE = re.compile(r"ml\.[a-z0-9-]{1,16}\.[a-z0-9-]{1,16}")


def observed(status: str | None) -> Observed:
    return _OBSERVED.get((status or "").strip().lower(), Observed.OTHER)


def tag_value(value: str) -> str:
    """``value`` made acceptable to SageMaker: disallowed characters become ``_``, then cut to the maximum length."""
    return _TAG_VALUE_BAD.sub("_", value)[:TAG_VALUE_MAX]


def notebooks(sagemaker: Any) -> Iterator[dict[str, Any]]:
    """Every notebook instance of the region (summaries), all pages of :data:`PAGE_SIZE`."""
    pages = sagemaker.get_paginator("list_notebook_instances").paginate(PaginationConfig={"PageSize": PAGE_SIZE})
    for page in pages:
        yield from page.get("NotebookInstances", [])


def tags_of(sagemaker: Any, arn: str) -> dict[str, str]:
    """A resource's tags (ListTags, every page)."""
    pages = sagemaker.get_paginator("list_tags").paginate(
        ResourceArn=arn, PaginationConfig={"PageSize": TAGS_PAGE_SIZE}
    )
    tags: dict[str, str] = {}
    for page in pages:
        tags |= tag_map(page.get("Tags"))
    return tags


class SageMakerAdapter:
    """The SageMaker notebook instances of one region (see :class:`scheduler.services.base.ServiceAdapter`)."""

    name = "sagemaker"
    resizable = False

    def __init__(self, region: str, session: boto3.Session | None = None) -> None:
        self.region = region
        self.client: Any = client("sagemaker", region=region, session=session)
        self.events_since: datetime | None = None  # unused: SageMaker starts nothing on its own
        self.warnings: list[str] = []
        self._arns: dict[str, str] = {}

    def discover(self, tag_key: str) -> list[Resource]:
        self.warnings = []
        found = []
        for item in notebooks(self.client):
            name, arn = str(item["NotebookInstanceName"]), str(item["NotebookInstanceArn"])
            try:
                tags = tags_of(self.client, arn)
            except (ClientError, BotoCoreError) as exc:
                warning = (
                    f"cannot read the tags of SageMaker notebook instance {name} in {self.region}: {aws_error(exc)}"
                )
                log.warning(warning)
                self.warnings.append(warning)
                continue
            if tag_key not in tags:
                continue
            self._arns[name] = arn
            status = item.get("NotebookInstanceStatus")
            details: SageMakerDetails = {"kind": "notebook-instance", "status": status}
            itype = item.get("InstanceType")
            found.append(
                Resource.tagged(self.name, name, tags, tag_key, observed(status), details, arn=arn, instance_type=itype)
            )
        return found

    def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]:
        """Stops each notebook instance (``hibernate`` is an EC2 option), then records its ML storage volume, which
        goes on billing while it is stopped. One already stopped or stopping (in service or pending) is left alone:
        SageMaker would refuse with a ValidationException."""
        results = one_by_one(resources, State.STOPPED, self._stop, "SageMaker")
        for result in results:
            if result.ok and not result.details.get("already"):
                volume = self._volume(result.resource)
                if volume is not None:
                    billing: StillBilling = {"volume_gb": volume}
                    result.details["billing_while_stopped"] = billing
        return results

    def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]] | None = None) -> list[ActionResult]:
        return one_by_one(resources, State.RUNNING, self._start, "SageMaker")

    def _stop(self, name: str) -> dict[str, Any]:
        self.client.stop_notebook_instance(NotebookInstanceName=name)
        return {"status": "Stopping"}

    def _start(self, name: str) -> dict[str, Any]:
        self.client.start_notebook_instance(NotebookInstanceName=name)
        return {"status": "Pending"}

    def _volume(self, name: str) -> int | None:
        """The notebook's ML storage volume in GB (best effort: only the report's storage estimate needs it)."""
        try:
            answer = self.client.describe_notebook_instance(NotebookInstanceName=name)
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not read the volume size of notebook instance %s: %s", name, aws_error(exc))
            return None
        return whole(answer.get("VolumeSizeInGB"))

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        return ActionResult(
            resource.id,
            ok=False,
            error="resize is not supported for SageMaker notebook instances (change the instance type yourself)",
        )

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        # AddTags takes one ResourceArn per call: no batching is possible.
        return tag_each(
            tags,
            lambda ident, values: self.client.add_tags(
                ResourceArn=self._arn(ident), Tags=[{"Key": k, "Value": tag_value(v)} for k, v in values.items()]
            ),
        )

    def _arn(self, ident: str) -> str:
        if ident not in self._arns:
            answer = self.client.describe_notebook_instance(NotebookInstanceName=ident)
            self._arns[ident] = str(answer["NotebookInstanceArn"])
        return self._arns[ident]


PRICE_LIST = by_instance_type(
    "sagemaker",
    "AmazonSageMaker",
    # The price list names a notebook instance's usage "<type>-Notebook" (usage type <REGION>-Notebk:<type>); the
    # same ml.* type has other rates for hosting, training, processing and Studio.
    listed_as="{}-Notebook",
    usage=lambda usage, type_: usage.endswith(f"Notebk:{type_}"),
    type_problem=types_like(_ML_TYPE, "a SageMaker ML instance type (e.g. ml.t3.medium)"),
)


class SageMakerService(ServiceBase):
    """SageMaker notebook instances (kind ``sagemaker``); see :class:`scheduler.services.base.Service`."""

    name = "sagemaker"
    kind_name = "SageMaker notebook instance"
    name_pattern = _NAME
    case_insensitive = True
    adapter_type = SageMakerAdapter
    tagging_types = ("sagemaker:notebook-instance",)

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        if not instance_type:
            return Pricing(None, 1, problem="the instance type is unknown")
        return Pricing(instance_type, 1, (Component(PriceQuery("sagemaker", region, instance_type)),))

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        what = "the notebook's ML storage volume"
        recorded = _details(details).get("billing_while_stopped")
        gb = None if recorded is None else recorded["volume_gb"]
        if gb is None:
            return not_estimated(what, "the stop did not record the volume size (DescribeNotebookInstance)")
        return {
            "what": f"{what} ({gb} GB)",
            "storage_gb": gb,
            "rate_per_gb_month": float(ML_STORAGE_GB_MONTH),
            "estimated_cost": stopped_hours * gb * ML_STORAGE_GB_MONTH / HOURS_PER_MONTH,
            "note": "ML storage at the US East (N. Virginia) list rate, over the stopped hours",
        }

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        expected = "a SageMaker notebook instance ARN (…:notebook-instance/NAME)"
        return "sagemaker", match_arn(_ARN_RESOURCE, value, resource, expected)["id"].lower()

    def _found(self, clients: ClientSource, region: str, wanted: Callable[[str], bool]) -> Iterator[Found]:
        sagemaker = clients.get("sagemaker", region)
        for item in notebooks(sagemaker):
            name = str(item["NotebookInstanceName"])
            if not wanted(name):
                continue
            arn = str(item["NotebookInstanceArn"])
            yield Found(
                kind="sagemaker",
                id=name,
                region=region,
                arn=arn,
                tags=tags_of(sagemaker, arn),
                state=item.get("NotebookInstanceStatus"),
            )

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        # No call takes several names, and names match case-insensitively: one listing serves every name.
        names = set(ids)
        return self._found(clients, region, lambda name: name.lower() in names)

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        # Nothing lists notebook instances by tag: every one is listed with its tags, the caller filters.
        yield "SageMaker notebook instances", self._found(clients, region, lambda name: True)

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        # AddTags/DeleteTags take a single ResourceArn per call: no batching.
        sagemaker = clients.get("sagemaker", region)
        if op == "tag":
            return 1, lambda batch: sagemaker.add_tags(ResourceArn=batch[0].arn, Tags=[{"Key": key, "Value": value}])
        return 1, lambda batch: sagemaker.delete_tags(ResourceArn=batch[0].arn, TagKeys=[key])


SERVICE: Service = SageMakerService()
