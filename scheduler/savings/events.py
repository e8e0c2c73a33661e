"""The ledger's vocabulary: what a resource is at a point of its timeline, the order of the entries of one
pass, and the state each entry leaves the resource in.

The ledger (``StateStore.ledger_month``) holds every action the scheduler took (``stop``, ``start``, ``resize``) and
what it observed happening without it (``manual-start``, ``manual-stop``, ``gone``: no longer found, deleted or
untagged; ``returned``: found again), and markers of ``isched:override`` tags (``override``, ``override-end``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What a resource is at a point of its timeline.
RUNNING = "running"
STOPPED = "stopped"  # by the scheduler
MANUAL_STOPPED = "manual-stopped"  # by anyone else: by hand, or already stopped when first seen

# At one instant (one pass), what the pass observed comes before what it did: found again, then changed by hand,
# then the scheduler's action. A close sorts before a stop, so a stop at the same instant opens a new interval.
ORDER = {
    "gone": 0,
    "returned": 1,
    "manual-start": 2,
    "manual-stop": 2,
    "override": 2,
    "override-end": 2,
    "start": 3,
    "resize": 3,
    "stop": 4,
}
# Entries that change no state, only whether an isched:override tag holds the resource (see overrides_after).
MARKERS = frozenset({"override", "override-end"})
# The state each entry leaves the resource in (gone and returned leave it as it was: they only hide or show it).
STATE_AFTER = {
    "stop": STOPPED,
    "start": RUNNING,
    "resize": RUNNING,
    "manual-start": RUNNING,
    "manual-stop": MANUAL_STOPPED,
}


def overrides_after(entry: Mapping[str, Any], current: bool) -> bool:
    """Whether an override keeps the resource running after ``entry`` (``current``: before it). The markers say so
    (``override`` with a running value, ``override-end``); so do the actions an override drove (``rule``)."""
    action = entry.get("action")
    if action == "override":
        return str(entry.get("override") or "").startswith("running")
    if action == "override-end" or entry.get("rule") == "override-end":
        return False
    if entry.get("rule") == "override":
        return action in ("start", "resize")
    return current
