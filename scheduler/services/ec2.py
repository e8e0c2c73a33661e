"""EC2 instances: discovery by tag, batched stop (or hibernate) and start, resizing, informational tags.

Every action is batched, and a failed batch is bisected until the failing ids stand alone (see
:mod:`scheduler.services.ec2_batches`). What an instance's details hold is in :mod:`scheduler.services.ec2_details`,
its price-list query in :mod:`scheduler.services.ec2_pricing`, what keeps billing while it is stopped in
:mod:`scheduler.services.ec2_billing`, and resizing in :mod:`scheduler.services.ec2_resize`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client, new_session
from scheduler.engine import Observed, instant_text

from .base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from .common import aws_error, chunks, tag_map, unique, within
from .ec2_batches import Call, error_code, run_bisected
from .ec2_billing import billing_while_stopped, read_still_billing
from .ec2_details import LIVE_STATES, Ec2Details
from .ec2_pricing import instance_pricing
from .ec2_resize import Resizer
from .naming import ClientSource, Found, InvalidResource, Operation, Reference, TagCall
from .pricing import Pricing
from .ssm_windows import Execution, read_executions

log = logging.getLogger(__name__)

# WHOLE_REQUEST_ERRORS and run_bisected are re-exported: the Auto Scaling adapter batches its calls the same way.
# Instances launched by an Auto Scaling group carry this tag. The group, not its instances, is what a schedule
# acts on: stopping a member makes the group replace it (or, for hibernation, mark it unhealthy and terminate it).
ASG_MEMBER_TAG = "aws:autoscaling:groupName"

# DescribeInstances MaxResults: 5-1000 (EC2 API reference).
MAX_PAGE_SIZE = 1000
MIN_PAGE_SIZE = 5
# StartInstances/StopInstances document no maximum number of ids (the API reference gives none, unlike
# TerminateInstances: "Up to 1000 instance IDs"); 1000, the limit EC2 documents for its other per-instance batch
# calls (TerminateInstances, CreateTags, DescribeInstances pages), keeps a request well inside the query API's size.
# A batch refused for one bad id (IncorrectInstanceState, InvalidInstanceID.NotFound, a tag-conditioned deny) is
# bisected: each bad id costs about 2 x log2(batch) extra calls, and every other instance still acts.
MAX_ACTION_BATCH = 1000
# CreateTags ResourceId.N: "Up to 1000 resource IDs" (EC2 API reference).
MAX_TAG_BATCH = 1000
# EC2 rejects more than 200 values in one filter (FilterLimitExceeded); stay well clear of it.
FILTER_VALUES = 100

# Details that describe the instance's live state (its record's ``observed`` is what the scheduler keeps of it).
VOLATILE_DETAILS = frozenset({"state", "state_reason", "stopped_at", "launch_time"})

OBSERVED = {
    "pending": Observed.STARTING,
    "running": Observed.RUNNING,
    "stopping": Observed.STOPPING,
    "stopped": Observed.STOPPED,
}

# Hibernation refused for one instance: not configured, not supported by its type or AMI, or "not ready to hibernate
# yet" shortly after launch. EC2 answers with either code (Instance Scheduler on AWS falls back on both too); the
# plain stop that follows reports its own error if the instance cannot be stopped at all.
HIBERNATION_ERRORS = frozenset({"UnsupportedHibernationConfiguration", "UnsupportedOperation"})


def instances(ec2: Any, filters: list[dict[str, Any]], page_size: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner account, instance) for every instance matching ``filters``, all pages of at most ``page_size``."""
    pages = ec2.get_paginator("describe_instances").paginate(Filters=filters, PaginationConfig={"PageSize": page_size})
    for page in pages:
        for reservation in page.get("Reservations", []):
            owner = str(reservation.get("OwnerId", ""))
            for inst in reservation.get("Instances", []):
                yield owner, inst


class Ec2Adapter:
    """The EC2 instances of one region (and one account: the session's credentials).

    ``page_size``, ``batch_size`` and ``tag_batch_size`` default to the API maxima chosen above; tests shrink them
    to exercise pagination and batching. ``wait_delay`` and ``wait_attempts`` bound how long a resize waits for an
    instance to stop (EC2 takes from seconds to several minutes).
    """

    name = "ec2"
    resizable = True

    def __init__(
        self,
        region: str,
        session: boto3.Session | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
        batch_size: int = MAX_ACTION_BATCH,
        tag_batch_size: int = MAX_TAG_BATCH,
        wait_delay: int = 5,
        wait_attempts: int = 60,
    ) -> None:
        self.region = region
        self.session = session or new_session()
        self.client: Any = client("ec2", region=region, session=self.session)
        self.page_size = within("page_size", page_size, MIN_PAGE_SIZE, MAX_PAGE_SIZE)
        self.batch_size = within("batch_size", batch_size, 1, MAX_ACTION_BATCH)
        self.tag_batch_size = within("tag_batch_size", tag_batch_size, 1, MAX_TAG_BATCH)
        self.wait_config = {"Delay": max(1, wait_delay), "MaxAttempts": max(1, wait_attempts)}
        self.events_since: datetime | None = None  # unused: EC2 never starts a stopped instance by itself
        self.warnings: list[str] = []

    def maintenance_windows(self, names: Sequence[str], at: datetime) -> list[Execution]:
        """The open and next executions of the SSM maintenance windows called ``names`` (schedules'
        ``ssm_maintenance_windows``); problems are added to :attr:`warnings`."""
        found, problems = read_executions(client("ssm", region=self.region, session=self.session), names, at)
        self.warnings.extend(problems)
        return found

    def discover(self, tag_key: str) -> list[Resource]:
        """Every live instance with tag ``tag_key``, except members of Auto Scaling groups."""
        filters = [
            {"Name": "tag-key", "Values": [tag_key]},
            {"Name": "instance-state-name", "Values": list(LIVE_STATES)},
        ]
        found: list[Resource] = []
        for owner, inst in self._instances(filters):
            tags = tag_map(inst.get("Tags"))
            if ASG_MEMBER_TAG in tags or tag_key not in tags:
                continue
            found.append(self._resource(owner, inst, tags, tags[tag_key].strip()))
        return found

    def _instances(self, filters: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
        """(owner account, instance) for every instance matching ``filters``, all pages, MaxResults always set.

        Without MaxResults EC2 tries to answer in one response (slow, and prone to time out for large fleets) and
        moto silently stops at 100 reservations.
        """
        return instances(self.client, filters, self.page_size)

    def _resource(self, owner: str, inst: Mapping[str, Any], tags: dict[str, str], schedule: str) -> Resource:
        iid = str(inst["InstanceId"])
        state = str(inst.get("State", {}).get("Name", ""))
        launch = inst.get("LaunchTime")
        details: Ec2Details = {
            "state": state,
            "platform": inst.get("PlatformDetails"),
            "tenancy": inst.get("Placement", {}).get("Tenancy"),
            "launch_time": instant_text(launch) if isinstance(launch, datetime) else launch,
            "hibernation_configured": bool(inst.get("HibernationOptions", {}).get("Configured", False)),
        }
        if inst.get("InstanceLifecycle"):  # spot or scheduled: priced differently from on-demand
            details["lifecycle"] = inst["InstanceLifecycle"]
        reason = inst.get("StateReason") or {}
        if state == "stopped" and (reason.get("Code") or reason.get("Message")):
            details["state_reason"] = {"code": reason.get("Code"), "message": reason.get("Message")}
        changed = _transition_time(inst.get("StateTransitionReason"))
        if state == "stopped" and changed is not None:
            details["stopped_at"] = changed  # when it stopped, for the savings report's stopped-by-hand time
        return Resource(
            service=self.name,
            id=iid,
            schedule=schedule,
            observed=OBSERVED.get(state, Observed.OTHER),
            arn=f"arn:{self.partition}:ec2:{self.region}:{owner}:instance/{iid}",
            instance_type=inst.get("InstanceType"),
            tags=tags,
            details=details,
            unschedulable=None if schedule else "the schedule tag is empty",
            volatile=VOLATILE_DETAILS,
        )

    @functools.cached_property
    def partition(self) -> str:
        try:
            return str(self.session.get_partition_for_region(self.region))
        except Exception:  # a region botocore does not know (new, or a local endpoint's invention) is still aws
            return "aws"

    def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]:
        """Stops the instances; with ``hibernate``, hibernates those configured for it and stops the others.

        An instance that refuses hibernation is stopped plainly; its result says so (``hibernated`` False and the
        refusal in ``hibernate_error``).
        """
        ids = unique(r.id for r in resources)
        can_hibernate = self._hibernation_configured(resources) if hibernate else set()
        plain = [i for i in ids if i not in can_hibernate]
        results = run_bisected(plain, self.batch_size, self._stop_call(hibernate=False))
        if hibernate:
            for i in plain:
                if results[i].ok:
                    results[i].details["hibernate_error"] = "hibernation is not configured on this instance"
        hibernating = [i for i in ids if i in can_hibernate]
        results |= run_bisected(hibernating, self.batch_size, self._stop_call(hibernate=True), self._stop_plainly)
        billing = read_still_billing(self.client, [i for i in ids if results[i].ok], FILTER_VALUES)
        for iid, found in billing.items():
            results[iid].details["billing_while_stopped"] = found
        return [results[i] for i in ids]

    def _stop_call(self, *, hibernate: bool) -> Call:
        def call(batch: list[str]) -> dict[str, dict[str, Any]]:
            params: dict[str, Any] = {"InstanceIds": batch}
            if hibernate:
                params["Hibernate"] = True
            response = self.client.stop_instances(**params)
            return {
                str(s["InstanceId"]): {"state": s.get("CurrentState", {}).get("Name"), "hibernated": hibernate}
                for s in response.get("StoppingInstances", [])
            }

        return call

    def _stop_plainly(self, iid: str, exc: ClientError) -> ActionResult:
        """After a refused hibernation, a plain stop; any other error is the instance's error."""
        if error_code(exc) not in HIBERNATION_ERRORS:
            return ActionResult(iid, ok=False, error=aws_error(exc))
        log.warning("instance %s cannot hibernate (%s): stopping it instead", iid, aws_error(exc))
        result = run_bisected([iid], 1, self._stop_call(hibernate=False))[iid]
        if result.ok:
            result.details["hibernate_error"] = aws_error(exc)
        else:
            result.error = f"{result.error} (after hibernation was refused: {aws_error(exc)})"
        return result

    def _hibernation_configured(self, resources: Sequence[Resource]) -> set[str]:
        """Ids configured for hibernation, from discovery's details or, where missing, a describe call."""
        known = {r.id: r.details["hibernation_configured"] for r in resources if "hibernation_configured" in r.details}
        unknown = unique(r.id for r in resources if r.id not in known)
        for batch in chunks(unknown, FILTER_VALUES):
            try:
                for _, inst in self._instances([{"Name": "instance-id", "Values": batch}]):
                    known[inst["InstanceId"]] = bool(inst.get("HibernationOptions", {}).get("Configured", False))
            except (ClientError, BotoCoreError) as exc:
                # Attempting hibernation is safe: a refusal falls back to a plain stop.
                log.warning("could not read hibernation options (%s): attempting hibernation", aws_error(exc))
                known |= dict.fromkeys(batch, True)
        return {i for i, configured in known.items() if configured}

    def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]] | None = None) -> list[ActionResult]:
        """Starts the instances (``saved`` is unused: a stopped instance keeps everything it needs)."""
        ids = unique(r.id for r in resources)
        results = run_bisected(ids, self.batch_size, self._start_call)
        return [results[i] for i in ids]

    def _start_call(self, batch: list[str]) -> dict[str, dict[str, Any]]:
        response = self.client.start_instances(InstanceIds=batch)
        return {
            str(s["InstanceId"]): {"state": s.get("CurrentState", {}).get("Name")}
            for s in response.get("StartingInstances", [])
        }

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        """Runs the instance as ``instance_type`` (see :class:`scheduler.services.ec2_resize.Resizer`)."""
        return Resizer(self.client, self.region, self.wait_config, self._describe_one).resize(resource, instance_type)

    def _describe_one(self, iid: str) -> dict[str, Any] | None:
        for _, inst in self._instances([{"Name": "instance-id", "Values": [iid]}]):
            if inst.get("InstanceId") == iid:
                return dict(inst)
        return None

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        """Sets tags per instance. Instances getting the same tags share CreateTags calls (up to 1000 ids each)."""
        groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for iid, values in tags.items():
            groups.setdefault(tuple(sorted(values.items())), []).append(iid)
        results: dict[str, ActionResult] = {}
        for pairs, ids in groups.items():
            if not pairs:
                results |= {i: ActionResult(i, ok=True) for i in ids}
                continue
            tag_list = [{"Key": k, "Value": v} for k, v in pairs]

            def call(batch: list[str], tag_list: list[dict[str, str]] = tag_list) -> dict[str, dict[str, Any]]:
                self.client.create_tags(Resources=batch, Tags=tag_list)
                return {}

            results |= run_bisected(ids, self.tag_batch_size, call)
        return [results[i] for i in tags]


_TRANSITION_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) GMT\)")


def _transition_time(reason: object) -> str | None:
    """The instant in an EC2 StateTransitionReason such as ``User initiated (2026-11-30 15:03:12 GMT)``."""
    if not isinstance(reason, str):
        return None
    found = _TRANSITION_TIME.search(reason)
    if found is None:
        return None
    try:
        return instant_text(datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    except ValueError:
        return None


_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})\Z")
_ARN_RESOURCE = re.compile(r"^instance/(?P<id>i-(?:[0-9a-f]{8}|[0-9a-f]{17}))\Z")


class Ec2Service(ServiceBase):
    """EC2 instances (see :class:`scheduler.services.base.Service`). The sizes are attributes so tests can
    shrink them."""

    name = "ec2"
    kind_name = "EC2 instance"
    named_kinds = ()  # instances have ids, no names
    tagging_types = ("ec2:instance",)

    page_size = MAX_PAGE_SIZE
    filter_values = FILTER_VALUES
    tag_batch = MAX_TAG_BATCH

    def adapter(self, region: str, session: boto3.Session, **options: Any) -> Ec2Adapter:
        return Ec2Adapter(region, session=session)

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        return instance_pricing(region, instance_type, details)

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        """EBS volume storage and Elastic IPs, as the stop recorded them (DescribeVolumes/DescribeAddresses right
        after the stop), at US East list rates over the stopped hours."""
        return billing_while_stopped(details, stopped_hours)

    def kind_of_id(self, text: str) -> str | None:
        return "ec2" if _INSTANCE_ID.match(text) else None

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        found = _ARN_RESOURCE.match(resource)
        if found is None:
            raise InvalidResource(f"'{value}' is not an EC2 instance ARN (…:instance/i-…)")
        return "ec2", found["id"]

    def _found(self, clients: ClientSource, region: str, filters: list[dict[str, Any]]) -> Iterator[Found]:
        partition = clients.partition(region)
        for owner, inst in instances(clients.get("ec2", region), filters, self.page_size):
            iid = inst["InstanceId"]
            yield Found(
                kind="ec2",
                id=iid,
                region=region,
                arn=f"arn:{partition}:ec2:{region}:{owner}:instance/{iid}",
                tags=tag_map(inst.get("Tags")),
                state=inst.get("State", {}).get("Name"),
            )

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        # A filter, unlike InstanceIds, does not fail the whole call when one id is unknown.
        for batch in chunks(ids, self.filter_values):
            yield from self._found(clients, region, [{"Name": "instance-id", "Values": batch}])

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        # Instances on their way out are not worth tagging. tag:KEY matches the pair on one tag.
        live = {"Name": "instance-state-name", "Values": list(LIVE_STATES)}
        yield "EC2 instances", self._found(clients, region, [{"Name": f"tag:{key}", "Values": [value]}, live])

    def problem(self, ref: Reference, found: Found) -> str | None:
        # The ARN is built here from the owner, so only the account can differ.
        account = found.arn.split(":")[4]
        if ref.arn is not None and account and ref.account and account != ref.account:
            return f"'{ref.value}' is in account {ref.account}, but the credentials reach account {account}"
        if found.state in ("terminated", "shutting-down"):
            return f"EC2 instance '{found.id}' is {found.state}"
        return None

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        ec2 = clients.get("ec2", region)
        if op == "tag":
            tags = [{"Key": key, "Value": value}]
            return self.tag_batch, lambda batch: ec2.create_tags(Resources=[r.id for r in batch], Tags=tags)
        # A key without a value deletes the tag whatever its value.
        return self.tag_batch, lambda batch: ec2.delete_tags(Resources=[r.id for r in batch], Tags=[{"Key": key}])


SERVICE: Service = Ec2Service()
