"""Sessions per account: the hub's own credentials for its account, an assumed spoke role for the others.

A Lambda container serves many invocations: :func:`warm_sessions` keeps one :class:`AccountSessions` per
configuration for the life of the process, so a warm invocation reuses its sessions, their cached clients and the
assumed-role credentials (refreshed by botocore shortly before they expire: one AssumeRole per account per
credential lifetime, not per invocation). The hub's account and partition come from the function's own ARN when
known, so no GetCallerIdentity is needed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from scheduler.engine import instant_text

from .session import client, default_region, endpoint_url, is_account_id, new_session

DEFAULT_ROLE_NAME = "isched-spoke"
DEFAULT_PARTITION = "aws"


def partition_of(arn: object) -> str | None:
    """The partition an ARN names (``arn:aws-cn:sts::…`` → ``aws-cn``), or None when ``arn`` is not an ARN."""
    if not isinstance(arn, str):
        return None
    prefix, _, rest = arn.partition(":")
    partition, sep, _ = rest.partition(":")
    return partition if prefix == "arn" and sep and partition else None


def partition_for_region(session: boto3.Session, region: str | None) -> str:
    """The partition of ``region`` as botocore knows it; ``aws`` for no region or one botocore does not know."""
    if not region:
        return DEFAULT_PARTITION
    try:
        return str(session.get_partition_for_region(region))
    except Exception:  # a new region, or one a local endpoint made up
        return DEFAULT_PARTITION


def spoke_role_arn(partition: str, account: str, role_name: str) -> str:
    """The ARN of role ``role_name`` in ``account``: ``arn:aws:iam::…``, ``arn:aws-cn:iam::…``, …"""
    return f"arn:{partition}:iam::{account}:role/{role_name}"


def function_identity(arn: object) -> tuple[str, str] | None:
    """(account, partition) of a Lambda function ARN (``arn:aws:lambda:eu-west-1:111122223333:function:f``, as
    in the Lambda context's ``invoked_function_arn``), or None when ``arn`` is not one."""
    partition = partition_of(arn)
    if partition is None or not isinstance(arn, str):
        return None
    fields = arn.split(":")
    if len(fields) < 7 or fields[2] != "lambda" or fields[5] != "function" or not is_account_id(fields[4]):
        return None
    return fields[4], partition


class AssumeRoleError(Exception):
    """The spoke role of an account could not be assumed: that account's targets fail, the others go on."""


class AccountSessions:
    """Thread-safe cache of one boto3 session per account for a pass."""

    def __init__(
        self,
        base: boto3.Session | None = None,
        role_name: str = DEFAULT_ROLE_NAME,
        external_id: str | None = None,
        *,
        hub: tuple[str, str] | None = None,
    ) -> None:
        """``hub``: the hub's (account, partition) when already known (from the function's ARN, see
        :func:`function_identity`); otherwise the first use asks STS once."""
        self.base = base or new_session()
        self.role_name = role_name
        self.external_id = external_id
        self._lock = threading.Lock()
        self._sessions: dict[str, boto3.Session] = {}
        # One lock per account: AssumeRole in different accounts runs in parallel, once per account.
        self._gates: dict[str, threading.Lock] = {}
        self._hub: str | None = hub[0] if hub else None
        self._partition: str | None = hub[1] if hub else None

    def _identity(self) -> tuple[str, str]:
        """The hub's account and partition: as given, else from one GetCallerIdentity (cached)."""
        if self._hub is None or self._partition is None:
            ident = client("sts", session=self.base).get_caller_identity()
            # The hub's own ARN names its partition; a spoke role is always in the same one (roles cannot be
            # assumed across partitions). The region is the fallback for an identity without a usable ARN.
            self._partition = partition_of(ident.get("Arn")) or partition_for_region(
                self.base, default_region(self.base)
            )
            self._hub = str(ident["Account"])
        return self._hub, self._partition

    @property
    def hub_account(self) -> str:
        return self._identity()[0]

    @property
    def partition(self) -> str:
        """The hub's partition (``aws``, ``aws-cn``, ``aws-us-gov`` …)."""
        return self._identity()[1]

    def role_arn(self, account: str) -> str:
        return spoke_role_arn(self.partition, account, self.role_name)

    def session(self, account: str) -> boto3.Session:
        with self._lock:
            cached = self._sessions.get(account)
            if cached is not None:
                return cached
            hub = self.hub_account
            gate = self._gates.setdefault(account, threading.Lock())
        with gate:  # one AssumeRole per account, however many regions ask at once; other accounts go on
            with self._lock:
                cached = self._sessions.get(account)
            if cached is None:
                cached = self.base if account == hub else self._assume(account)
                with self._lock:
                    self._sessions[account] = cached
        return cached

    def has_credentials(self, account: str) -> bool:
        """Whether the role's session in ``account`` is already at hand (no AssumeRole needed)."""
        with self._lock:
            return account in self._sessions

    def credentials(self, account: str) -> dict[str, str] | None:
        """The role's current credentials in ``account`` (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``,
        for :func:`scheduler.aws.session.client`'s ``credentials``), or None for the hub's own account (its base
        session signs). They come from the account's refreshing session, so a warm process never signs with
        expired ones."""
        if account == self.hub_account:
            return None
        creds = self.session(account).get_credentials()
        if creds is None:
            raise AssumeRoleError(f"no credentials for {self.role_arn(account)}")
        frozen = creds.get_frozen_credentials()
        out = {"AccessKeyId": frozen.access_key, "SecretAccessKey": frozen.secret_key}
        if frozen.token:
            out["SessionToken"] = frozen.token
        return out

    def _assume(self, account: str) -> boto3.Session:
        """A session on the spoke role of ``account`` whose credentials botocore refreshes (AssumeRole again) when
        they are about to expire; the first AssumeRole happens here, so a refused role fails now."""
        fetch = self._credential_fetcher(account)
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="assume-role"
        )
        core = botocore.session.get_session()
        # botocore has no public setter for a session's credentials; boto3's own assume-role profiles end the
        # same way (a provider that returns RefreshableCredentials).
        core._credentials = credentials
        return new_session(self.base.region_name, core)

    def _credential_fetcher(self, account: str) -> Callable[[], dict[str, str]]:
        kwargs: dict[str, Any] = {"RoleArn": self.role_arn(account), "RoleSessionName": "isched"}
        if self.external_id:
            kwargs["ExternalId"] = self.external_id

        def fetch() -> dict[str, str]:
            try:
                creds = client("sts", session=self.base).assume_role(**kwargs)["Credentials"]
            except (ClientError, BotoCoreError) as exc:
                raise AssumeRoleError(f"cannot assume {kwargs['RoleArn']}: {exc}") from None
            expiration = creds["Expiration"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": expiration if isinstance(expiration, str) else instant_text(expiration),
            }

        return fetch


_WARM: dict[tuple[str | None, ...], AccountSessions] = {}
_WARM_LOCK = threading.Lock()


def warm_sessions(
    role_name: str = DEFAULT_ROLE_NAME, external_id: str | None = None, function_arn: str | None = None
) -> AccountSessions:
    """The process's :class:`AccountSessions` for this configuration, made on first use and reused by every later
    (warm) Lambda invocation. ``function_arn`` (the context's ``invoked_function_arn``) names the hub account.

    The key includes what the base session is built from (the region, the endpoint override and the
    environment's credentials), so a changed environment gets new sessions rather than stale ones.
    """
    token = os.environ.get("AWS_SESSION_TOKEN")
    key = (
        role_name,
        external_id,
        function_arn,
        default_region(),
        endpoint_url("sts"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
        hashlib.sha256(token.encode()).hexdigest() if token else None,
    )
    with _WARM_LOCK:
        cached = _WARM.get(key)
        if cached is None:
            if len(_WARM) >= 16:
                _WARM.clear()
            cached = _WARM[key] = AccountSessions(
                role_name=role_name, external_id=external_id, hub=function_identity(function_arn)
            )
        return cached


def forget_warm_sessions() -> None:
    """Drops the process's warm sessions (tests; a changed environment is detected without it)."""
    with _WARM_LOCK:
        _WARM.clear()
