"""One deployment's parts, built in one place for the CLI, the Lambda handlers and the demo: its tables and the
stores over them, the sessions into its accounts, and the settings its service adapters take."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from scheduler.aws.accounts import DEFAULT_ROLE_NAME, AccountSessions
from scheduler.engine import Config
from scheduler.services.base import ServiceAdapter
from scheduler.services.registry import make_adapter
from scheduler.store.config import ConfigStore
from scheduler.store.state import DEFAULT_TAG_KEY, StateStore, Target
from scheduler.store.tables import Tables

from .orchestrator import LocalInvoker
from .worker import WorkerResult, run_target


@dataclass
class Deployment:
    tables: Tables
    sessions: AccountSessions
    # Deployment settings for the adapters (e.g. snapshot_before_stop for RDS); each service takes what it knows.
    adapter_options: dict[str, Any] = field(default_factory=dict)
    # The tag naming each resource's schedule: each tag key has its own state (see StateStore).
    tag_key: str = DEFAULT_TAG_KEY
    # The zone of schedules that name none (the stack's DefaultTimezone); validated by whoever reads it.
    default_timezone: str = "UTC"

    @classmethod
    def build(
        cls,
        tables: Tables | None = None,
        *,
        namespace: str = "default",
        sessions: AccountSessions | None = None,
        base: boto3.Session | None = None,
        role_name: str = DEFAULT_ROLE_NAME,
        external_id: str | None = None,
        adapter_options: Mapping[str, Any] | None = None,
        tag_key: str = DEFAULT_TAG_KEY,
        default_timezone: str = "UTC",
    ) -> Deployment:
        """The parts, from what is given: ``tables`` (else the namespace's), ``sessions`` (else sessions from
        ``base`` that assume ``role_name`` in other accounts)."""
        return cls(
            tables if tables is not None else Tables.for_namespace(namespace),
            sessions if sessions is not None else AccountSessions(base, role_name=role_name, external_id=external_id),
            dict(adapter_options or {}),
            tag_key,
            default_timezone,
        )

    @functools.cached_property
    def config(self) -> ConfigStore:
        return ConfigStore(self.tables, self.default_timezone)

    @functools.cached_property
    def state(self) -> StateStore:
        return StateStore(self.tables, tag_key=self.tag_key)

    def adapter(self, target: Target) -> ServiceAdapter:
        session = self.sessions.session(target.account)
        return make_adapter(target.service, target.region, session, **self.adapter_options)

    def local_invoker(self, config: Config, **options: Any) -> LocalInvoker:
        """Runs targets in threads of this process (``options``: see :class:`LocalInvoker`)."""
        return LocalInvoker(config, self.state, self.sessions, adapter_options=self.adapter_options, **options)

    def run_target(self, target: Target, at: datetime, config: Config, **options: Any) -> WorkerResult:
        """One pass for one target (``options``: see :func:`scheduler.runtime.worker.run_target`)."""
        return run_target(
            target, at, config, self.state, self.sessions, adapter_options=self.adapter_options, **options
        )
