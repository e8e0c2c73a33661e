"""Which targets a pass fans out to: the configured ones (accounts × regions × services) that have something to do.

At organisation scale most targets hold nothing tagged, and a worker invocation for each would cost a Lambda
invocation, a queue message, a state query and a discovery call for nothing. So before fanning out the orchestrator
asks each account and region once, through the spoke's read-only lookup role:

- one ``tag:GetResources`` with ``TagFilters`` on the tag key and the ``ResourceTypeFilters`` of every service the
  Resource Groups Tagging API lists (EC2 instances, RDS instances and clusters), paginated, stopping as soon as
  every such service has been seen;
- for a service that API does not list, the service's own one-call probe (:meth:`Service.any_tagged`; Auto Scaling
  groups: ``DescribeTags`` on the key, one record at most).

A target is invoked when it has a tagged resource, or when its last pass left resources to look at (the state
table's pass item, :meth:`StateStore.settled_targets`): a target whose resources were all untagged or deleted still
gets the pass that records them ``gone`` for the savings report, and a managed resource never depends on the
Tagging API's eventual consistency. Whatever cannot be looked up (a spoke without the lookup role, throttling past
retries, DynamoDB failing) is invoked: a failed lookup never skips a target. The price of the look-up: a resource
tagged in a target that had nothing may be seen a pass later than without it (the Tagging API is eventually
consistent; typically seconds).
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, Credentials, ReadOnlyCredentials

from scheduler.aws.accounts import AccountSessions
from scheduler.aws.session import client, new_session
from scheduler.services.common import aws_error
from scheduler.services.registry import get as get_service
from scheduler.store.state import StateStore, Target

# GetResources returns at most 100 resources a page.
TAGGING_PAGE_SIZE = 100
DEFAULT_CONCURRENCY = 32
MAX_PROBLEMS_SHOWN = 10


@dataclass
class Selection:
    """The targets to invoke (in the configured order) and how each was chosen."""

    targets: list[Target]
    configured: int
    tagged: int = 0  # found with tagged resources
    settling: int = 0  # nothing tagged, but the last pass left resources to settle
    unknown: int = 0  # invoked because the look-up failed
    calls: int = 0  # look-up API calls (STS, Tagging API, service probes, DynamoDB)
    problems: list[str] = field(default_factory=list)  # one line per failed look-up

    @property
    def skipped(self) -> int:
        return self.configured - len(self.targets)

    @classmethod
    def everything(cls, targets: Sequence[Target]) -> Selection:
        """No look-up: every configured target is invoked."""
        return cls(list(targets), len(targets))

    def to_json(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "invoked": len(self.targets),
            "skipped": self.skipped,
            "tagged": self.tagged,
            "settling": self.settling,
            "unknown": self.unknown,
            "calls": self.calls,
            "problems": self.problems[:MAX_PROBLEMS_SHOWN],
        }


class _ThreadCredentials(Credentials):  # type: ignore[misc]
    """Signs with the credentials of the account the calling thread is looking up. botocore reads a client's
    credentials when it signs each request, in the calling thread; so one client per service and region serves
    every account, where a client per account and region would cost milliseconds of CPU each (thousands a pass)."""

    def __init__(self) -> None:
        super().__init__("-", "-")
        self._local = threading.local()

    def use(self, frozen: ReadOnlyCredentials) -> None:
        self._local.frozen = frozen

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        frozen: ReadOnlyCredentials = self._local.frozen
        return frozen


class _SharedClients:
    """One client per service and region for the whole look-up, signing with :class:`_ThreadCredentials`."""

    def __init__(self, sessions: AccountSessions) -> None:
        self.sessions = sessions
        self.credentials = _ThreadCredentials()
        # The process's shared model loader (new_session gives it), the base session's event hooks, and credentials
        # that follow the thread.
        core = botocore.session.Session()
        base = sessions.base._session
        # A copy of its event hooks: they apply as to the base session's clients, and what boto3 registers here
        # does not pile up on the base session pass after pass.
        core.register_component("event_emitter", copy.copy(base.get_component("event_emitter")))
        core.register_component("credential_provider", CredentialResolver([_Fixed(self.credentials)]))
        self.session = new_session(sessions.base.region_name, core)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._hub: ReadOnlyCredentials | None = None

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            made = self._clients.get((service, region))
            if made is None:
                made = self._clients[(service, region)] = client(service, region, self.session)
            return made

    def sign_as(self, account: str) -> None:
        """Makes this thread's calls sign as the look-up identity in ``account``."""
        creds = self.sessions.credentials(account)
        if creds is None:
            if self._hub is None:
                own = self.sessions.base.get_credentials()
                if own is None:
                    raise RuntimeError("the hub session has no credentials")
                self._hub = own.get_frozen_credentials()
            self.credentials.use(self._hub)
        else:
            self.credentials.use(
                ReadOnlyCredentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken"))
            )


class _Fixed(CredentialProvider):  # type: ignore[misc]
    METHOD = "isched-lookup"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


class _AccountClients:
    """Clients in one account for the look-up (a :class:`scheduler.services.naming.ClientSource`), for the calling
    thread: the hub's own credentials in the hub account, the lookup role's elsewhere (assumed once per account)."""

    def __init__(self, shared: _SharedClients, account: str, counter: _Counter) -> None:
        self.shared = shared
        self.account = account
        before = account == shared.sessions.hub_account or shared.sessions.has_credentials(account)
        shared.sign_as(account)  # may raise: the role cannot be assumed
        if not before:
            counter.add(1)  # the AssumeRole (approximately: regions of one account may ask at once)

    def get(self, service: str, region: str) -> Any:
        return self.shared.client(service, region)

    def partition(self, region: str) -> str:
        return self.shared.sessions.partition


class _Counter:
    def __init__(self) -> None:
        self.n = 0
        self._lock = threading.Lock()

    def add(self, k: int) -> None:
        with self._lock:
            self.n += k


_ARN_TYPE = re.compile(r"^arn:[^:]*:([^:]+):[^:]*:[^:]*:([^:/]+)")


def resource_type(arn: str) -> str | None:
    """The Tagging API's resource type of an ARN: ``arn:aws:ec2:…:instance/i-1`` → ``ec2:instance``."""
    m = _ARN_TYPE.match(arn)
    return f"{m.group(1)}:{m.group(2)}" if m else None


def probe(
    clients: Any, region: str, services: Sequence[str], tag_key: str, counter: _Counter | None = None
) -> tuple[dict[str, bool | None], list[str]]:
    """Whether each of ``services`` has a resource tagged ``tag_key`` in ``region`` (None: could not tell), and
    the problems met. ``clients`` is a ClientSource for one account."""
    counter = counter or _Counter()
    answers: dict[str, bool | None] = {}
    problems: list[str] = []
    by_type = {t: name for name in services for t in get_service(name).tagging_types}
    listed = set(by_type.values())
    if by_type:
        seen: set[str] = set()
        try:
            pages = clients.get("resourcegroupstaggingapi", region).get_paginator("get_resources")
            for page in pages.paginate(
                TagFilters=[{"Key": tag_key}],
                ResourceTypeFilters=sorted(by_type),
                ResourcesPerPage=TAGGING_PAGE_SIZE,
            ):
                counter.add(1)
                for mapping in page.get("ResourceTagMappingList") or []:
                    name = by_type.get(resource_type(str(mapping.get("ResourceARN") or "")) or "")
                    if name is not None:
                        seen.add(name)
                if seen >= listed:
                    break  # every service is known to have something: the rest of the pages cannot change that
            answers.update({name: name in seen for name in listed})
        except Exception as exc:  # whatever failed, these targets are invoked
            answers.update(dict.fromkeys(listed))
            problems.append(f"tag:GetResources: {aws_error(exc)}")
    for name in services:
        if name in listed:
            continue
        try:
            answers[name] = get_service(name).any_tagged(clients, region, tag_key)
            counter.add(1)
        except Exception as exc:
            answers[name] = None
            problems.append(f"{name}: {aws_error(exc)}")
    return answers, problems


def select_targets(
    targets: Sequence[Target],
    sessions: AccountSessions,
    state: StateStore,
    tag_key: str,
    *,
    max_workers: int = DEFAULT_CONCURRENCY,
) -> Selection:
    """The targets worth a worker invocation (see the module docstring); ``sessions`` assume the lookup role."""
    groups: dict[tuple[str, str], list[str]] = {}
    for t in targets:
        groups.setdefault((t.account, t.region), []).append(t.service)
    counter = _Counter()
    shared = _SharedClients(sessions)

    def look(key: tuple[str, str]) -> tuple[dict[str, bool | None], list[str]]:
        account, region = key
        try:
            # Assumes the role first: a refusal is one problem, not one per service.
            clients = _AccountClients(shared, account, counter)
            return probe(clients, region, groups[key], tag_key, counter)
        except Exception as exc:  # the role could not be assumed, or the account is unreachable
            return dict.fromkeys(groups[key]), [aws_error(exc)]

    answers: dict[Target, bool | None] = {}
    selection = Selection([], len(targets))
    keys = list(groups)
    if keys:
        with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(keys)))) as pool:
            for key, (found, problems) in zip(keys, pool.map(look, keys), strict=True):
                for service, answer in found.items():
                    answers[Target(key[0], key[1], service)] = answer
                selection.problems += [f"{key[0]}/{key[1]}: {p}" for p in problems]
    empty = [t for t in targets if answers.get(t) is False]
    settled: set[Target] = set()
    if empty:
        try:
            settled = state.settled_targets(empty)
            counter.add((len(empty) + 99) // 100)
        except Exception as exc:  # without the state table's answer, every empty-looking target is invoked
            selection.problems.append(f"state table: {aws_error(exc)}")
            settled = set()
    for t in targets:
        answer = answers.get(t)
        if answer is True:
            selection.tagged += 1
        elif answer is None:
            selection.unknown += 1
        elif t not in settled:
            selection.settling += 1
        else:
            continue
        selection.targets.append(t)
    selection.calls = counter.n
    return selection


def lookup_sessions(sessions: AccountSessions, role_name: str) -> AccountSessions:
    """Sessions like ``sessions`` (same hub credentials and external id) that assume ``role_name`` in the other
    accounts: the spoke's read-only lookup role."""
    return AccountSessions(sessions.base, role_name=role_name, external_id=sessions.external_id)
