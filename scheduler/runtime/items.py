"""One resource as a pass carries it through its steps: found, decided, acted on."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.engine import Decision, Override, PassView
from scheduler.services.base import ActionResult, Resource
from scheduler.store.state import ResourceRecord


@dataclass
class Item:
    resource: Resource
    record: ResourceRecord | None  # as loaded (None: first seen by this pass)
    decision: Decision | None = None  # None: not decided (unknown schedule, unschedulable)
    view: PassView | None = None
    result: ActionResult | None = None  # the action's outcome, once acted on
    override: Override | None = None  # its isched:override tag, parsed (None: none, or malformed)

    @property
    def acted(self) -> bool:
        """Whether this pass acted on it and the action succeeded."""
        return self.result is not None and self.result.ok
