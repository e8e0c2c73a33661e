"""The maintenance windows a pass gives the engine: a resource's own preferred window (RDS) and the SSM
maintenance windows its schedule names (SPEC §2 rule 7)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from scheduler.engine import Config, MaintenanceWindow, Schedule, rds_windows
from scheduler.services.base import MaintenanceWindowSource, Resource, ServiceAdapter
from scheduler.services.details import common
from scheduler.services.ssm_windows import Execution, merge_executions
from scheduler.store.state import PassInfo, StateStore, Target

from .results import WorkerResult, describe


def ssm_windows(
    target: Target,
    config: Config,
    resources: list[Resource],
    adapter: ServiceAdapter,
    state: StateStore,
    info: PassInfo,
    at: datetime,
    result: WorkerResult,
    *,
    write: bool,
) -> dict[str, list[MaintenanceWindow]]:
    """The SSM maintenance window executions the schedules of ``resources`` name, by window name.

    SSM reports only a window's next execution, so one seen before it opened is remembered in the state table
    until it is over. If SSM cannot be read, the remembered executions still apply (and a warning says why).
    """
    names = sorted(
        {
            n
            for r in resources
            if r.schedule in config.schedules
            for n in config.schedules[r.schedule].ssm_maintenance_windows
        }
    )
    remembered = [e for e in (Execution.from_data(d) for d in info.ssm_windows) if e is not None]
    if not names or not isinstance(adapter, MaintenanceWindowSource):
        return {}
    read: list[Execution] = []
    before = len(adapter.warnings)
    try:
        read = adapter.maintenance_windows(names, at)
    except Exception as exc:
        result.error(
            None,
            f"could not read SSM maintenance windows ({describe(exc)}): using the {len(remembered)} execution(s) "
            "remembered from earlier passes",
            "warning",
        )
    for warning in adapter.warnings[before:]:
        result.error(None, warning, "warning")
    kept = merge_executions(remembered, read, at)
    if write and [e.to_data() for e in kept] != list(info.ssm_windows):
        try:
            state.save_ssm_windows(target, [e.to_data() for e in kept], at)
        except Exception as exc:
            result.error(None, f"could not remember SSM maintenance window executions: {describe(exc)}", "warning")
    out: dict[str, list[MaintenanceWindow]] = {}
    for e in kept:
        out.setdefault(e.name, []).append(e.window())
    return out


def maintenance_windows(
    res: Resource, schedule: Schedule, ssm: Mapping[str, list[MaintenanceWindow]], at: datetime, result: WorkerResult
) -> list[MaintenanceWindow]:
    """The resource's maintenance windows around ``at``, as its schedule asks (SPEC §2 rule 7; off by default)."""
    out: list[MaintenanceWindow] = []
    preferred = common(res.details).get("maintenance_window")
    if schedule.use_maintenance_window and preferred:
        try:
            out.extend(rds_windows(preferred, at))
        except ValueError as exc:
            result.error(res.id, f"its preferred maintenance window is not used: {exc}", "warning")
    for name in schedule.ssm_maintenance_windows:
        out.extend(ssm.get(name, ()))
    return out
