"""Reading the store: the state records and the ledger months a report needs (the only module here that does
I/O; prices come in as a lookup function everywhere else).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.store.state import ResourceRecord, StateStore, Target

from .events import STOPPED
from .keys import ResourceKey
from .months import entry_instant, months_between
from .priors import Prior, prior_states


@dataclass
class LedgerView:
    entries: list[dict[str, Any]]
    priors: dict[ResourceKey, Prior]
    records: dict[ResourceKey, ResourceRecord]
    months_read: int

    @property
    def opened(self) -> dict[ResourceKey, Mapping[str, Any]]:
        return {k: p.entry for k, p in self.priors.items() if p.state == STOPPED and not p.gone and p.entry}


def read_state(store: StateStore) -> dict[ResourceKey, ResourceRecord]:
    records: dict[ResourceKey, ResourceRecord] = {}
    for target_key in store.all_targets():
        # account#region#service, with #tag-key for passes that use a tag key other than the default.
        parts = target_key.split("#", 3)
        if len(parts) < 3:
            continue
        target = Target(*parts[:3])
        tagged = StateStore(store.tables, tag_key=parts[3]) if len(parts) == 4 else store
        found, _ = tagged.load(target)
        for rid, rec in found.items():
            records.setdefault(ResourceKey(target.account, target.region, target.service, rid), rec)
    return records


class MonthReader:
    """The ledger's months, each read once (a month is one query)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._months: dict[str, list[dict[str, Any]]] = {}
        self.reads = 0

    def __call__(self, month: str) -> list[dict[str, Any]]:
        if month not in self._months:
            self._months[month] = self.store.ledger_month(month)
            self.reads += 1
        return self._months[month]


def read_ledger(
    store: StateStore,
    month: str,
    last_month: str | None = None,
    *,
    until: datetime | None = None,
    records: dict[ResourceKey, ResourceRecord] | None = None,
    reader: MonthReader | None = None,
) -> LedgerView:
    """The ledger of ``month`` (to ``last_month``), the stored state, and what each resource was when it began."""
    read = reader or MonthReader(store)
    before = read.reads
    entries = [e for m in months_between(month, last_month or month) for e in read(m)]
    records = records if records is not None else read_state(store)
    priors, _ = prior_states(month, entries, records, read, last_month=last_month, until=until)
    return LedgerView(entries, priors, records, read.reads - before)


def earliest_first_seen(records: Mapping[ResourceKey, ResourceRecord]) -> datetime | None:
    """When the scheduler first saw any of the resources it manages (None: no record says)."""
    seen = [entry_instant(r.first_seen_at) for r in records.values() if r.first_seen_at]
    return min(seen) if seen else None
