"""Auto Scaling groups: discovery by tag, stop (all sizes to zero) and start (the sizes from before the stop).

A stop first writes the group's sizes into the tag ``isched:saved-capacity`` (``min=1,max=3,desired=2``) and only
then sets min, max and desired to 0. The sizes thus live on the group itself: a crash between the two calls, or a
lost state table, never loses them. A start restores exactly the sizes the stop saved (from the state table, else
from the tag); with neither, it reports an error for that group instead of guessing a size.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.engine import Observed

from .base import ActionResult, Resource, Service, ServiceBase, ServiceDetails
from .capacity import (
    SAVED_CAPACITY_TAG,
    SavedCapacity,
    SavedFromTags,
    ScalesToZero,
    desired_to_price,
    format_capacity,
)
from .common import aws_error, chunks, not_estimated, tag_map, unique
from .details import texts
from .ec2_batches import WHOLE_REQUEST_ERRORS, run_bisected
from .naming import ClientSource, Found, InvalidResource, Operation, TagCall
from .pricing import Component, PriceQuery, Pricing

log = logging.getLogger(__name__)

# DescribeAutoScalingGroups MaxRecords: default 50, maximum 100; AutoScalingGroupNames: "By default, you can only
# specify up to 50 names" (API reference).
MAX_PAGE_SIZE = 100
NAMES_BATCH = 50
# DescribeLaunchConfigurations LaunchConfigurationNames: up to 50 (API reference).
LAUNCH_CONFIGURATION_BATCH = 50
# CreateOrUpdateTags documents no maximum for Tags.member.N (API reference: "One or more tags"; the botocore model
# has none either). Cloud Custodian saw failures above 25 groups per request (cloud-custodian/cloud-custodian#4047),
# so 25 tags per request is the largest batch known to work (for the schedule tag too).
MAX_TAG_BATCH = 25

# Auto Scaling's names for errors about the request or the caller rather than one group.
_WHOLE_REQUEST_ERRORS = WHOLE_REQUEST_ERRORS | {"InternalFailure"}

SAVED = SavedCapacity(
    noun="Auto Scaling group",
    keys=("min", "max", "desired"),
    stored="the stored sizes {} are",
    nothing="no sizes were saved for it",
    by_hand="set its min, max and desired sizes by hand",
    unsaved=f"could not save its sizes in tag {SAVED_CAPACITY_TAG} ({{}}); left running so that they are not lost",
)


class AsgDetails(SavedFromTags, total=False):
    """What an Auto Scaling group's ``details`` hold: its sizes when seen, how many instances it runs, the types
    it launches or runs, and what its saved-capacity tag says (:class:`SavedFromTags`)."""

    min: int
    max: int
    desired: int
    instances: int
    instance_types: list[str]
    tags: dict[str, str]  # added by the worker to what it stores


def _details(details: Mapping[str, object]) -> AsgDetails:
    """The keys pricing reads besides the desired size (:func:`desired_to_price` reads it), as typed (a ledger
    entry's or state record's details, numbers as DynamoDB's Decimals; a value of another type reads as absent)."""
    return {"instance_types": texts(details.get("instance_types"))}


def _sizes(group: Mapping[str, Any]) -> dict[str, int]:
    return {"min": int(group["MinSize"]), "max": int(group["MaxSize"]), "desired": int(group["DesiredCapacity"])}


def _packed(names: Sequence[str], sizes: Mapping[str, int], limit: int) -> Iterator[list[str]]:
    """``names`` in consecutive batches of at most ``limit`` tags in all, a group's tags never split."""
    batch: list[str] = []
    count = 0
    for name in names:
        if batch and count + sizes[name] > limit:
            yield batch
            batch, count = [], 0
        batch.append(name)
        count += sizes[name]
    if batch:
        yield batch


def groups(asg: Any, page_size: int, **params: Any) -> Iterator[dict[str, Any]]:
    """Every group DescribeAutoScalingGroups answers for ``params``, all pages of at most ``page_size``."""
    pages = asg.get_paginator("describe_auto_scaling_groups").paginate(
        **params, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        yield from page.get("AutoScalingGroups", [])


class AsgAdapter(ScalesToZero):
    """The Auto Scaling groups of one region (``batch_size``: tags per CreateOrUpdateTags call)."""

    name = "asg"
    saved_capacity = SAVED
    client_name = "autoscaling"
    max_page_size = MAX_PAGE_SIZE
    max_batch_size = MAX_TAG_BATCH

    def discover(self, tag_key: str) -> list[Resource]:
        groups = [
            g
            for g in self._groups(Filters=[{"Name": "tag-key", "Values": [tag_key]}])
            # A server that ignores the filter (some fakes do) must not make every group scheduled.
            if tag_key in tag_map(g.get("Tags"))
        ]
        configured = self._configured_types(groups)
        return [self._resource(g, tag_key, configured.get(g["AutoScalingGroupName"], [])) for g in groups]

    def _groups(self, **params: Any) -> Iterator[dict[str, Any]]:
        return groups(self.client, self.page_size, **params)

    def _resource(self, group: Mapping[str, Any], tag_key: str, configured: list[str]) -> Resource:
        name = str(group["AutoScalingGroupName"])
        tags = tag_map(group.get("Tags"))
        sizes = _sizes(group)
        running_types = {str(i["InstanceType"]) for i in group.get("Instances", []) if i.get("InstanceType")}
        details: AsgDetails = {
            "min": sizes["min"],
            "max": sizes["max"],
            "desired": sizes["desired"],
            "instances": len(group.get("Instances", [])),
        }
        SAVED.record(details, tags)
        types = sorted(set(configured) | running_types)
        if types:
            details["instance_types"] = types
        # What the group launches when started; failing that, what it runs now, if that is a single type.
        instance_type = configured[0] if len(set(configured)) == 1 else None
        if instance_type is None and not configured and len(running_types) == 1:
            instance_type = next(iter(running_types))
        observed = Observed.STOPPED if not any(sizes.values()) else Observed.RUNNING
        if group.get("Status"):  # only set while the group is being deleted
            observed = Observed.OTHER
        arn = group.get("AutoScalingGroupARN")
        # The sizes price the group and stay; the count of instances follows them a few passes later.
        volatile = frozenset({"instances"})
        return Resource.tagged(
            self.name, name, tags, tag_key, observed, details, arn=arn, instance_type=instance_type, volatile=volatile
        )

    def _configured_types(self, groups: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
        """The instance types each group launches, from its launch configuration or launch template.

        Best effort: only pricing needs them, so a lookup that fails (e.g. no ec2:DescribeLaunchTemplateVersions
        permission) leaves the types unknown rather than failing discovery.
        """
        by_lc: dict[str, list[str]] = {}
        by_lt: dict[tuple[str, str, str], list[str]] = {}
        result: dict[str, list[str]] = {}
        for group in groups:
            name = str(group["AutoScalingGroupName"])
            mixed = group.get("MixedInstancesPolicy") or {}
            template = group.get("LaunchTemplate") or mixed.get("LaunchTemplate", {}).get("LaunchTemplateSpecification")
            overrides = [
                str(o["InstanceType"])
                for o in mixed.get("LaunchTemplate", {}).get("Overrides", [])
                if o.get("InstanceType")
            ]
            if overrides:  # the overrides replace the template's type
                result[name] = unique(overrides)
            elif group.get("LaunchConfigurationName"):
                by_lc.setdefault(str(group["LaunchConfigurationName"]), []).append(name)
            elif template:
                key = (
                    str(template.get("LaunchTemplateId") or ""),
                    str(template.get("LaunchTemplateName") or ""),
                    str(template.get("Version") or "$Default"),
                )
                by_lt.setdefault(key, []).append(name)
        try:
            for lc_type, names in self._launch_configuration_types(by_lc):
                result |= {n: [lc_type] for n in names}
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not read launch configurations in %s: %s", self.region, aws_error(exc))
        for key, names in by_lt.items():
            try:
                lt_type = self.launch_template_type(*key)
            except (ClientError, BotoCoreError) as exc:  # one deleted template must not hide the others' types
                log.warning(
                    "could not read launch template %s in %s: %s", key[0] or key[1], self.region, aws_error(exc)
                )
                continue
            if lt_type:
                result |= {n: [lt_type] for n in names}
        return result

    def _launch_configuration_types(self, by_lc: Mapping[str, list[str]]) -> Iterator[tuple[str, list[str]]]:
        for batch in chunks(sorted(by_lc), LAUNCH_CONFIGURATION_BATCH):
            pages = self.client.get_paginator("describe_launch_configurations").paginate(
                LaunchConfigurationNames=batch, PaginationConfig={"PageSize": MAX_PAGE_SIZE}
            )
            for page in pages:
                for lc in page.get("LaunchConfigurations", []):
                    if lc.get("InstanceType") and lc.get("LaunchConfigurationName") in by_lc:
                        yield str(lc["InstanceType"]), by_lc[lc["LaunchConfigurationName"]]

    def _batches(self, ids: Sequence[str]) -> Iterable[Sequence[str]]:
        return chunks(ids, NAMES_BATCH)

    def _describe(self, batch: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        for group in self._groups(AutoScalingGroupNames=list(batch)):
            if group["AutoScalingGroupName"] in batch:
                yield group["AutoScalingGroupName"], group

    def _sizes(self, item: Mapping[str, Any]) -> dict[str, int]:
        return _sizes(item)

    def _tags(self, item: Mapping[str, Any]) -> dict[str, str]:
        return tag_map(item.get("Tags"))

    def _running(self, sizes: dict[str, int]) -> bool:
        return any(sizes.values())

    def _zero(self, sizes: dict[str, int]) -> dict[str, int]:
        return {"min": 0, "max": 0, "desired": 0}

    def _mirror(
        self, items: Mapping[str, tuple[Mapping[str, Any], dict[str, int]]]
    ) -> Iterator[tuple[str, str | None]]:
        # Batched: CreateOrUpdateTags takes many groups' tags in one call.
        saved = self._write_tags({n: {SAVED_CAPACITY_TAG: format_capacity(s)} for n, (_, s) in items.items()})
        for name in items:
            yield name, None if saved[name].ok else saved[name].error or "unknown error"

    def _set(self, ident: str, sizes: Mapping[str, int]) -> None:
        self.client.update_auto_scaling_group(
            AutoScalingGroupName=ident, MinSize=sizes["min"], MaxSize=sizes["max"], DesiredCapacity=sizes["desired"]
        )

    def set_tags(self, tags: dict[str, dict[str, str]]) -> list[ActionResult]:
        """Sets tags per group, batched up to ``batch_size`` tags per CreateOrUpdateTags call."""
        results = self._write_tags(tags)
        return [results[n] for n in tags]

    def _write_tags(self, tags: Mapping[str, Mapping[str, str]]) -> dict[str, ActionResult]:
        names = [n for n in tags if tags[n]]
        results = {n: ActionResult(n, ok=True) for n in tags if not tags[n]}

        def call(batch: list[str]) -> dict[str, dict[str, Any]]:
            self.client.create_or_update_tags(
                Tags=[
                    # Informational and saved-capacity tags describe the group, not the instances it launches.
                    {
                        "ResourceId": n,
                        "ResourceType": "auto-scaling-group",
                        "Key": k,
                        "Value": v,
                        "PropagateAtLaunch": False,
                    }
                    for n in batch
                    for k, v in tags[n].items()
                ]
            )
            return {}

        counts = {n: len(tags[n]) for n in names}
        for batch in _packed(names, counts, self.batch_size):
            results |= run_bisected(batch, len(batch), call, whole_request_errors=_WHOLE_REQUEST_ERRORS)
        return results


_ARN_RESOURCE = re.compile(r"^autoScalingGroup:[0-9a-fA-F-]+:autoScalingGroupName/(?P<id>.+)\Z")


class AsgService(ServiceBase):
    """Auto Scaling groups (see :class:`scheduler.services.base.Service`). The sizes are attributes so tests can
    shrink them."""

    name = "asg"
    kind_name = "Auto Scaling group"
    saves_capacity = True
    price_list = "ec2"
    arn_service = "autoscaling"
    adapter_type = AsgAdapter

    page_size = MAX_PAGE_SIZE
    names_batch = NAMES_BATCH
    tag_batch = MAX_TAG_BATCH

    def any_tagged(self, clients: ClientSource, region: str, key: str) -> bool | None:
        # The Resource Groups Tagging API does not list Auto Scaling groups (its GetResources answers nothing for
        # them); DescribeTags filtered on the key answers with one call, one record at most.
        answer = clients.get("autoscaling", region).describe_tags(
            Filters=[{"Name": "key", "Values": [key]}], MaxRecords=1
        )
        return bool(answer.get("Tags"))

    def pricing(
        self, region: str, instance_type: str | None, details: ServiceDetails, capacity: Mapping[str, Any] | None
    ) -> Pricing:
        seen = _details(details)
        desired = desired_to_price(details, capacity)
        types = seen.get("instance_types") or []
        type_ = instance_type or (types[0] if len(set(types)) == 1 else None)
        if desired is None:
            return Pricing(type_, 0, problem="the group's desired capacity is unknown")
        if type_ is None:
            why = f"it launches several instance types ({', '.join(sorted(set(types)))})" if types else "type unknown"
            return Pricing(", ".join(sorted(set(types))) or None, desired, problem=f"no single instance price: {why}")
        return Pricing(type_, desired, (Component(PriceQuery("ec2", region, type_, origin="asg"), desired),))

    def billing_while_stopped(self, details: ServiceDetails, stopped_hours: Decimal) -> Mapping[str, Any]:
        return not_estimated(
            "nothing of the group's instances (at zero capacity they are terminated), unless their volumes are kept "
            "(DeleteOnTermination false)"
        )

    def billed_under_own_tag(self, pricing: Pricing) -> bool:
        return False  # its instances are billed, and carry the tag only if launched after it was set

    def parse_arn(self, value: str, resource: str) -> tuple[str, str]:
        found = _ARN_RESOURCE.match(resource)
        if found is None:
            raise InvalidResource(
                f"'{value}' is not an Auto Scaling group ARN (…:autoScalingGroup:UUID:autoScalingGroupName/NAME)"
            )
        return "asg", found["id"]

    def _found(self, clients: ClientSource, region: str, **params: Any) -> Iterator[Found]:
        for group in groups(clients.get("autoscaling", region), self.page_size, **params):
            yield Found(
                kind="asg",
                id=group["AutoScalingGroupName"],
                region=region,
                arn=group["AutoScalingGroupARN"],
                tags=tag_map(group.get("Tags")),
                state=group.get("Status"),
            )

    def lookup(self, clients: ClientSource, region: str, kind: str, ids: list[str]) -> Iterable[Found]:
        for batch in chunks(ids, self.names_batch):
            yield from self._found(clients, region, AutoScalingGroupNames=batch)

    def find_tagged(
        self, clients: ClientSource, region: str, key: str, value: str
    ) -> Iterator[tuple[str, Iterable[Found]]]:
        # tag:KEY matches the pair on one tag; tag-key plus tag-value could match KEY on one tag and VALUE on another.
        yield "Auto Scaling groups", self._found(clients, region, Filters=[{"Name": f"tag:{key}", "Values": [value]}])

    def tag_writer(
        self, clients: ClientSource, region: str, kind: str, op: Operation, key: str, value: str
    ) -> tuple[int, TagCall]:
        asg = clients.get("autoscaling", region)
        if op == "untag":
            return self.tag_batch, lambda batch: asg.delete_tags(
                Tags=[{"ResourceId": r.id, "ResourceType": "auto-scaling-group", "Key": key} for r in batch]
            )
        # Propagated to the instances the group launches, so that their cost is allocated to the schedule tag
        # (Cost Explorer sees instances, not groups). The EC2 worker never acts on group members itself.
        return self.tag_batch, lambda batch: asg.create_or_update_tags(
            Tags=[
                {
                    "ResourceId": r.id,
                    "ResourceType": "auto-scaling-group",
                    "Key": key,
                    "Value": value,
                    "PropagateAtLaunch": True,
                }
                for r in batch
            ]
        )


SERVICE: Service = AsgService()
