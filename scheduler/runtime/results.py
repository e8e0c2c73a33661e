"""What a pass reports: the actions it took, the errors and warnings it met, and its summary log line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from scheduler.engine import iso_z
from scheduler.store.state import Target


@dataclass
class ActionRecord:
    account: str
    region: str
    service: str
    resource: str
    schedule: str
    action: str
    reason: str
    ok: bool = True
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("ok", "error")}


# "error": needs attention, and makes `isched run` exit 1; "warning": worth knowing, the pass did its work;
# "skipped": the target's pass was already claimed (a duplicate delivery or an overlapping pass).
Severity = Literal["error", "warning", "skipped"]
# How each severity reads at the start of the error text (the text users and scripts have always seen).
_PREFIX: dict[Severity, str] = {"error": "", "warning": "warning: ", "skipped": "skipped: "}


@dataclass
class ErrorRecord:
    account: str
    region: str
    service: str
    resource: str | None
    error: str
    severity: Severity = "error"

    @property
    def is_failure(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorkerResult:
    target: Target
    at: datetime
    actions: list[ActionRecord] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    managed: int = 0
    pending: int = 0  # resources whose action failed or had to wait: the next pass retries them
    skipped: str | None = None  # why the whole target was skipped (pass already claimed)
    simulated: bool = False  # the pass time is ahead of the real clock
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)  # rule -> action -> resources

    def decided(self, rule: str, action: str) -> None:
        by_action = self.decisions.setdefault(rule, {})
        by_action[action] = by_action.get(action, 0) + 1

    def error(self, resource: str | None, text: str, severity: Severity = "error") -> None:
        t = self.target
        self.errors.append(ErrorRecord(t.account, t.region, t.service, resource, _PREFIX[severity] + text, severity))


def pass_summary(result: WorkerResult, seconds: float, calls: Mapping[str, int], dry_run: bool) -> dict[str, Any]:
    """What one pass of one target did, as its summary log line carries it (a structured ``summary`` key)."""
    actions: dict[str, int] = {}
    for a in result.actions:
        key = a.action if a.ok else f"{a.action} failed"
        actions[key] = actions.get(key, 0) + 1
    return {
        "target": str(result.target),
        "at": iso_z(result.at),
        "managed": result.managed,
        "decisions": {rule: dict(sorted(by.items())) for rule, by in sorted(result.decisions.items())},
        "actions": dict(sorted(actions.items())),
        "errors": sum(1 for e in result.errors if e.is_failure),
        "warnings": sum(1 for e in result.errors if e.severity == "warning"),
        "pending": result.pending,
        "skipped": result.skipped is not None,
        "simulated": result.simulated,
        "dry_run": dry_run,
        "duration_ms": round(seconds * 1000, 1),
        "aws_calls": sum(calls.values()),
        "aws_calls_by_operation": dict(sorted(calls.items())),
    }


def summary_text(result: WorkerResult, seconds: float, calls: Mapping[str, int]) -> str:
    """The pass's summary line, for people."""
    acted = sum(1 for a in result.actions if a.ok)
    failed = len(result.actions) - acted
    errors = sum(1 for e in result.errors if e.is_failure)
    what = "skipped (already claimed)" if result.skipped else f"{result.managed} managed, {acted} acted"
    return (
        f"{result.target}: pass at {iso_z(result.at)}: {what}, {failed} failed, {errors} error(s) "
        f"in {seconds:.2f} s, {sum(calls.values())} AWS call(s)"
    )


def describe(exc: BaseException) -> str:
    """An exception as an error text, at most 300 characters."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
