"""The ``isched:override`` tag through a pass: read from each resource, and removed once it has expired and the
resource is back in its schedule's state."""

from __future__ import annotations

from datetime import datetime

from scheduler.engine import OVERRIDE_TAG, Override, parse_override
from scheduler.engine.errors import FieldError
from scheduler.services import tagging
from scheduler.services.base import Resource, ServiceAdapter

from .items import Item
from .results import WorkerResult, describe


def override_of(res: Resource, result: WorkerResult) -> Override | None:
    """The resource's ``isched:override`` tag, parsed; a malformed one is an error for this resource only, which
    then follows its schedule."""
    text = res.tags.get(OVERRIDE_TAG)
    if text is None:
        return None
    try:
        return parse_override(text)
    except FieldError as exc:
        result.error(res.id, f"tag {OVERRIDE_TAG}: {exc}; it follows its schedule until the tag is fixed or removed")
        return None


def remove_expired_overrides(adapter: ServiceAdapter, items: list[Item], at: datetime, result: WorkerResult) -> None:
    """Removes ``isched:override`` tags that have expired, from resources this pass brought back to (or found in)
    their schedule's state. A failure is an error for that resource; the next pass tries again."""
    done = []
    for i in items:
        d = i.decision
        if i.override is None or i.override.active(at) or d is None or d.state_if_ok.pending:
            continue
        if d.acts and not i.acted:
            continue  # not brought back yet: the tag stays until it is
        done.append(i.resource)
    if not done:
        return
    try:
        failed = tagging.untag_discovered(done, OVERRIDE_TAG, tagging.Clients(getattr(adapter, "session", None)))
    except Exception as exc:
        failed = {res.id: describe(exc) for res in done}
    for rid, why in failed.items():
        result.error(rid, f"could not remove the expired tag {OVERRIDE_TAG}: {why} (tried again next pass)")
