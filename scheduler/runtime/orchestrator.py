"""The orchestrator: one pass over every target (account × region × service), fanned out through an invoker.

The same code runs in Lambda (the invoker sends one asynchronous worker invocation per target) and in the CLI
(a thread pool runs the workers in-process); only the invoker differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scheduler.aws.accounts import AccountSessions, AssumeRoleError
from scheduler.engine import Config, iso_z
from scheduler.store.state import StateStore, Target

from .notify import EventSink, publish_outcome
from .worker import ErrorRecord, WorkerResult, run_target


@dataclass(frozen=True)
class PassRequest:
    at: datetime
    tag_key: str = "Schedule"
    dry_run: bool = False
    # The real clock for this pass (None: the system's). Only a simulated world (the demo) sets it: a pass
    # ahead of it is a simulation that never blocks real-time passes.
    now: datetime | None = None


class Invoker(Protocol):
    def invoke(
        self, targets: Sequence[Target], request: PassRequest, on_done: Callable[[WorkerResult], None] | None = None
    ) -> list[WorkerResult]: ...


def targets_for(accounts: Iterable[str], regions: Iterable[str], services: Iterable[str]) -> list[Target]:
    return [Target(a, r, s) for a in accounts for r in regions for s in services]


class LocalInvoker:
    """Runs each target's worker in a thread of this process (the CLI's stand-in for Lambda fan-out)."""

    def __init__(
        self,
        config: Config,
        state: StateStore,
        sessions: AccountSessions,
        *,
        max_workers: int = 8,
        logger: Any = None,
        adapter_options: dict[str, Any] | None = None,
        invalid_schedules: Mapping[str, str] | None = None,
        events: EventSink | None = None,
    ) -> None:
        self.config = config
        self.events = events  # where the passes' events go (None: nowhere)
        self.invalid_schedules = dict(invalid_schedules or {})
        self.state = state
        self.sessions = sessions
        self.max_workers = max_workers
        self.logger = logger or logging.getLogger("isched.worker")
        self.adapter_options = adapter_options or {}

    def run_one(self, target: Target, request: PassRequest) -> WorkerResult:
        result: WorkerResult
        try:
            result = run_target(
                target,
                request.at,
                self.config,
                self.state,
                self.sessions,
                adapter_options=self.adapter_options,
                tag_key=request.tag_key,
                dry_run=request.dry_run,
                logger=self.logger,
                now=request.now,
                invalid_schedules=self.invalid_schedules,
                events=self.events,
            )
        except AssumeRoleError as exc:
            result = _failed(target, request, str(exc))
        except Exception as exc:  # one target's failure (throttled past retries, no permission) is one error
            result = _failed(target, request, f"{type(exc).__name__}: {exc}")
        publish_outcome(self.events, result, dry_run=request.dry_run)
        return result

    def invoke(
        self, targets: Sequence[Target], request: PassRequest, on_done: Callable[[WorkerResult], None] | None = None
    ) -> list[WorkerResult]:
        results: list[WorkerResult] = []
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(targets)))) as pool:
            futures = [pool.submit(self.run_one, t, request) for t in targets]
            for fut in as_completed(futures):
                res = fut.result()
                results.append(res)
                if on_done is not None:
                    on_done(res)
        order = {t: n for n, t in enumerate(targets)}
        return sorted(results, key=lambda r: order[r.target])


def _failed(target: Target, request: PassRequest, text: str) -> WorkerResult:
    res = WorkerResult(target, request.at)
    res.errors.append(ErrorRecord(target.account, target.region, target.service, None, text))
    return res


@dataclass
class PassResult:
    at: datetime
    results: list[WorkerResult] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso_z(self.at),
            "actions": [a.to_json() for r in self.results for a in r.actions],
            "errors": [e.to_json() for r in self.results for e in r.errors],
        }


def run_pass(
    invoker: Invoker,
    targets: Sequence[Target],
    request: PassRequest,
    on_done: Callable[[WorkerResult], None] | None = None,
) -> PassResult:
    return PassResult(request.at, invoker.invoke(targets, request, on_done))
