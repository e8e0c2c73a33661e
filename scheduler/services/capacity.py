"""The capacity a stop saves and the start restores, for the services that stop a resource by scaling it to zero
(Auto Scaling groups, ECS services, EKS node groups).

A stop saves the sizes it replaces with zeros: in the state table, which the worker hands back to the start, and in
the resource's tag :data:`SAVED_CAPACITY_TAG` (``min=1,max=3,desired=2``; ``desired=3`` for an ECS service), so a
lost state table or a crash between the two calls never loses them. The start restores them exactly, from the state
table, else from the tag; with neither it reports an error for that resource rather than guess a size. A resource
found running at a start (scaled up by hand) keeps the sizes it has.

Each service describes its capacity with a :class:`SavedCapacity` and its adapter subclasses :class:`ScalesToZero`,
which holds the stop, the start and the reading of the resources as they are now; the subclass says how its service
lists, reads, sizes, tags and updates one.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client, new_session

from .base import ActionResult, Resource
from .common import aws_error, unique, with_missing, within
from .pricing import whole

SAVED_CAPACITY_TAG = "isched:saved-capacity"
SIZE_KEYS = ("min", "max", "desired")

Sizes = dict[str, int]


class SavedFromTags(TypedDict, total=False):
    """What the saved-capacity tag says, in the details of a service that :attr:`saves_capacity`."""

    saved_capacity: Sizes
    saved_capacity_error: str  # the tag is unreadable: why


class CapacityError(ValueError):
    """Sizes that cannot be restored (missing, negative, not whole numbers, or not min <= desired <= max)."""


def format_capacity(sizes: Mapping[str, int], keys: Sequence[str] = SIZE_KEYS) -> str:
    return ",".join(f"{k}={sizes[k]}" for k in keys)


def parse_capacity(text: str, keys: Sequence[str] = SIZE_KEYS) -> Sizes:
    """``min=1,max=3,desired=2`` (any order, spaces allowed) as ``{"min": 1, "max": 3, "desired": 2}`` (``keys``:
    the sizes expected)."""
    values: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise CapacityError(f"'{part.strip()}' is not KEY=VALUE")
        values[key.strip().lower()] = value.strip()
    return check_capacity(values, keys)


def check_capacity(values: Mapping[str, Any], keys: Sequence[str] = SIZE_KEYS) -> Sizes:
    """The sizes in ``values`` as whole numbers, checked the way UpdateAutoScalingGroup would check them."""
    sizes: Sizes = {}
    for key in keys:
        if key not in values:
            raise CapacityError(f"'{key}' is missing")
        sizes[key] = _whole(key, values[key])
    if set(SIZE_KEYS) <= set(sizes) and not sizes["min"] <= sizes["desired"] <= sizes["max"]:
        raise CapacityError(f"min <= desired <= max does not hold for {format_capacity(sizes)}")
    return sizes


def _whole(key: str, value: Any) -> int:
    # Numbers read back from DynamoDB arrive as Decimal; the tag gives strings.
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool) and value >= 0 and int(value) == value:
        return int(value)
    raise CapacityError(f"'{key}' must be a whole number >= 0, not {value!r}")


def desired_to_price(details: Mapping[str, object], capacity: Mapping[str, Any] | None) -> int | None:
    """How many a resource runs, for its price: the desired size its stop saved (what it would have run), else its
    desired size when seen."""
    desired = whole((capacity or {}).get("desired"))
    return whole(details.get("desired")) if desired is None else desired


@dataclass(frozen=True)
class SavedCapacity:
    """What one service saves: the sizes it sets (``keys``) and its words for the errors of a start."""

    noun: str  # "Auto Scaling group"
    keys: tuple[str, ...]  # the sizes saved and restored
    stored: str  # how the state table's sizes are named: "the stored sizes {} are"
    nothing: str  # "no sizes were saved for it"
    by_hand: str  # what a person must do instead: "set its min, max and desired sizes by hand"
    # What a stop reports when the tag cannot be written ("{}": why): an error, the resource left running so that
    # its sizes are not lost. None: it is stopped all the same, with a warning (the state table holds the sizes).
    unsaved: str | None
    # A further rule on the sizes a start restores (raises CapacityError): EKS needs a maximum of at least 1.
    restorable: Callable[[Sizes], None] | None = None

    def parse(self, text: str) -> Sizes:
        return parse_capacity(text, self.keys)

    def from_values(self, values: Mapping[str, Any]) -> Sizes:
        return check_capacity(values, self.keys)

    def _restorable(self, sizes: Sizes) -> Sizes:
        if self.restorable is not None:
            self.restorable(sizes)
        return sizes

    def format(self, sizes: Mapping[str, int]) -> str:
        return format_capacity(sizes, self.keys)

    def from_tags(self, tags: Mapping[str, str]) -> SavedFromTags:
        """What the tag says, for a resource's details: ``saved_capacity``, or ``saved_capacity_error`` when it is
        unreadable; nothing without the tag."""
        if SAVED_CAPACITY_TAG not in tags:
            return {}
        try:
            return {"saved_capacity": self.parse(tags[SAVED_CAPACITY_TAG])}
        except CapacityError as exc:
            return {"saved_capacity_error": f"tag {SAVED_CAPACITY_TAG}='{tags[SAVED_CAPACITY_TAG]}': {exc}"}

    def record(self, details: SavedFromTags, tags: Mapping[str, str]) -> None:
        """Adds what the tag says (:meth:`from_tags`) to a resource's details."""
        found = self.from_tags(tags)
        if "saved_capacity" in found:
            details["saved_capacity"] = found["saved_capacity"]
        if "saved_capacity_error" in found:
            details["saved_capacity_error"] = found["saved_capacity_error"]

    def unsaved_warning(self, sizes: Mapping[str, int], why: str) -> str:
        return (
            f"stopped, but its sizes ({self.format(sizes)}) could not be copied to tag {SAVED_CAPACITY_TAG} ({why}); "
            "the state table holds them"
        )

    def already_stopped(self, ident: str, tags: Mapping[str, str]) -> ActionResult:
        """The result of a stop of a resource already at zero: left alone, its tag too (rewriting it would save the
        zeros). Without a readable tag nothing is known to restore: the start will say so."""
        details: dict[str, Any] = {"already_stopped": True}
        with contextlib.suppress(KeyError, CapacityError):
            details["saved_capacity"] = self.parse(tags[SAVED_CAPACITY_TAG])
        return ActionResult(ident, ok=True, details=details)

    def to_restore(
        self, ident: str, stored: Mapping[str, Any] | None, tags: Mapping[str, str]
    ) -> tuple[Sizes | None, str]:
        """The sizes to restore (``stored``: the state table's, the sizes or an object holding them under
        ``saved_capacity``; else the tag), or None and why none can be."""
        problems: list[str] = []
        if stored:
            values = stored.get("saved_capacity", stored)
            try:
                return self._restorable(self.from_values(values if isinstance(values, Mapping) else {})), ""
            except CapacityError as exc:
                problems.append(f"{self.stored.format(repr(dict(stored)))} unusable ({exc})")
        if SAVED_CAPACITY_TAG in tags:
            try:
                return self._restorable(self.parse(tags[SAVED_CAPACITY_TAG])), ""
            except CapacityError as exc:
                problems.append(f"tag {SAVED_CAPACITY_TAG}='{tags[SAVED_CAPACITY_TAG]}' is unusable ({exc})")
        if not problems:
            problems.append(f"{self.nothing} (no stored state and no {SAVED_CAPACITY_TAG} tag)")
        return None, f"cannot start {self.noun} '{ident}': {'; '.join(problems)}; {self.by_hand}"


class ScalesToZero(ABC):
    """An adapter that stops a resource by scaling it to zero and starts it with the sizes its stop saved (see
    :class:`scheduler.services.base.ServiceAdapter`); its subclass says how its service lists, reads and sets them."""

    name: str
    resizable = False
    saved_capacity: SavedCapacity
    client_name: str  # the boto3 client of its service
    max_page_size: int  # the largest page its listings may ask for (the API's maximum)
    # The largest batch of the service's own batched call, where it has one (ASG: tags per CreateOrUpdateTags, ECS:
    # services per DescribeServices); 0: none.
    max_batch_size = 0

    def __init__(
        self,
        region: str,
        session: boto3.Session | None = None,
        *,
        page_size: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        """``page_size`` and ``batch_size`` default to the API's maxima; tests make them smaller."""
        self.page_size = within(
            "page_size", self.max_page_size if page_size is None else page_size, 1, self.max_page_size
        )
        self.batch_size = self.max_batch_size
        if batch_size is not None:
            self.batch_size = within("batch_size", batch_size, 1, self.max_batch_size)
        self.region = region
        self.session = session or new_session()
        self.client: Any = client(self.client_name, region=region, session=self.session)
        self.events_since: datetime | None = None  # unused: a resource at zero stays at zero
        self.warnings: list[str] = []

    def launch_template_type(self, template_id: str | None, template_name: str | None, version: str) -> str | None:
        """The instance type that ``version`` of a launch template (by id, else by name) sets, if any; raises when
        EC2 cannot be read. For pricing the instances of a group or node group that launches from one."""
        params: dict[str, Any] = {"Versions": [version]}
        if template_id:
            params["LaunchTemplateId"] = template_id
        else:
            params["LaunchTemplateName"] = template_name
        ec2 = client("ec2", region=self.region, session=self.session)  # cached per session and region
        for found in ec2.describe_launch_template_versions(**params).get("LaunchTemplateVersions", []):
            instance_type = (found.get("LaunchTemplateData") or {}).get("InstanceType")
            if instance_type:
                return str(instance_type)
        return None

    @abstractmethod
    def _batches(self, ids: Sequence[str]) -> Iterable[Sequence[str]]:
        """``ids`` in the batches one describe call (or one listing) reads."""

    @abstractmethod
    def _describe(self, batch: Sequence[str]) -> Iterator[tuple[str, dict[str, Any]]]:
        """The resources of ``batch`` that exist, with their ids, as the service describes them; raises on a failed
        call."""

    @abstractmethod
    def _sizes(self, item: Mapping[str, Any]) -> Sizes:
        """A resource's sizes, as its describe call answers them."""

    @abstractmethod
    def _tags(self, item: Mapping[str, Any]) -> dict[str, str]: ...

    def _running(self, sizes: Sizes) -> bool:
        """Whether sizes are those of a resource that runs (one started by hand is left as it is)."""
        return bool(sizes["desired"])

    @abstractmethod
    def _zero(self, sizes: Sizes) -> Sizes:
        """The sizes a stop sets on a resource of ``sizes`` (a resource already at them is left alone)."""

    @abstractmethod
    def _set(self, ident: str, sizes: Mapping[str, int]) -> None:
        """Sets a resource's sizes (one update call)."""

    @abstractmethod
    def _mirror(self, items: Mapping[str, tuple[Mapping[str, Any], Sizes]]) -> Iterator[tuple[str, str | None]]:
        """Writes each resource's sizes into its tag (``items``: id to the resource and its sizes), yielding each id
        with why its tag could not be written (None when it was) as soon as that is known, so that the stop's update
        follows its own tag."""

    def _update(
        self, ident: str, sizes: Mapping[str, int], details: dict[str, Any], warning: str | None = None
    ) -> ActionResult:
        """Sets a resource's sizes; the result carries ``details`` and ``warning``."""
        try:
            self._set(ident, sizes)
        except (ClientError, BotoCoreError) as exc:
            return ActionResult(ident, ok=False, error=aws_error(exc), details=details)
        return ActionResult(ident, ok=True, details=details, warning=warning)

    def _current(self, ids: Sequence[str]) -> tuple[dict[str, dict[str, Any]], dict[str, ActionResult]]:
        """The resources as they are now (found) and a failed result for each id not found or not read (a failed
        call fails its whole batch)."""
        found: dict[str, dict[str, Any]] = {}
        failed: dict[str, ActionResult] = {}
        for batch in self._batches(ids):
            try:
                for ident, item in self._describe(batch):
                    found[ident] = item
            except (ClientError, BotoCoreError) as exc:
                failed |= {i: ActionResult(i, ok=False, error=aws_error(exc)) for i in batch}
        noun = self.saved_capacity.noun
        return found, with_missing(ids, found, failed, lambda i: f"{noun} '{i}' not found in {self.region}")

    def stop(self, resources: list[Resource], *, hibernate: bool = False) -> list[ActionResult]:
        """Saves each resource's sizes in its tag, then scales it to zero (one update per resource: none of these
        services has a batch update). The sizes saved are read now, not at discovery: a size changed while it ran
        is what is restored. A resource already at zero is left alone, its tag too (rewriting it would save the
        zeros). ``hibernate`` does not apply."""
        ids = unique(r.id for r in resources)
        current, results = self._current(ids)
        to_save: dict[str, tuple[Mapping[str, Any], Sizes]] = {}
        for ident, item in current.items():
            sizes = self._sizes(item)
            if sizes == self._zero(sizes):
                results[ident] = self.saved_capacity.already_stopped(ident, self._tags(item))
            else:
                to_save[ident] = (item, sizes)
        for ident, why in self._mirror(to_save):
            sizes = to_save[ident][1]
            warning = None
            if why is not None:
                if self.saved_capacity.unsaved is not None:
                    results[ident] = ActionResult(ident, ok=False, error=self.saved_capacity.unsaved.format(why))
                    continue
                warning = self.saved_capacity.unsaved_warning(sizes, why)
            results[ident] = self._update(ident, self._zero(sizes), {"saved_capacity": sizes}, warning)
        return [results[i] for i in ids]

    def start(self, resources: list[Resource], *, saved: dict[str, dict[str, Any]] | None = None) -> list[ActionResult]:
        """Restores each resource's sizes from before its stop: ``saved[id]`` (the state table's), else its tag.
        Neither gives an error for that resource. A resource found running was started by hand: left as it is."""
        ids = unique(r.id for r in resources)
        current, results = self._current(ids)
        for ident, item in current.items():
            sizes = self._sizes(item)
            if self._running(sizes):
                results[ident] = ActionResult(ident, ok=True, details={"already_running": True, "capacity": sizes})
                continue
            target, error = self.saved_capacity.to_restore(ident, (saved or {}).get(ident), self._tags(item))
            if target is None:
                results[ident] = ActionResult(ident, ok=False, error=error)
                continue
            results[ident] = self._update(ident, target, {"saved_capacity": target, "capacity": target})
        return [results[i] for i in ids]

    def resize(self, resource: Resource, instance_type: str) -> ActionResult:
        return ActionResult(resource.id, ok=False, error=f"resize is not supported for {self.saved_capacity.noun}s")


class TaggedOneByOne(ScalesToZero):
    """A :class:`ScalesToZero` whose service tags one resource per call (ECS, EKS): each resource's sizes go into its
    tag :data:`SAVED_CAPACITY_TAG` by :meth:`_save`, just before its own update."""

    @abstractmethod
    def _save(self, item: Mapping[str, Any], sizes: Sizes) -> None:
        """Writes ``sizes`` into the resource's tag :data:`SAVED_CAPACITY_TAG` (one tag call)."""

    def _mirror(self, items: Mapping[str, tuple[Mapping[str, Any], Sizes]]) -> Iterator[tuple[str, str | None]]:
        for ident, (item, sizes) in items.items():
            try:
                self._save(item, sizes)
            except (ClientError, BotoCoreError) as exc:
                yield ident, aws_error(exc)
                continue
            yield ident, None
