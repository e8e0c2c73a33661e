"""Sessions per account: the hub's own credentials for its account, an assumed spoke role for the others."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .session import client, default_region

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


class AssumeRoleError(Exception):
    """The spoke role of an account could not be assumed: that account's targets fail, the others go on."""


class AccountSessions:
    """Thread-safe cache of one boto3 session per account for a pass."""

    def __init__(
        self,
        base: boto3.Session | None = None,
        role_name: str = DEFAULT_ROLE_NAME,
        external_id: str | None = None,
    ) -> None:
        self.base = base or boto3.Session()
        self.role_name = role_name
        self.external_id = external_id
        self._lock = threading.Lock()
        self._sessions: dict[str, boto3.Session] = {}
        self._credentials: dict[str, dict[str, str]] = {}
        self._gates: dict[str, threading.Lock] = {}
        self._hub: str | None = None
        self._partition: str | None = None

    def _identity(self) -> tuple[str, str]:
        """The hub's account and partition, from one GetCallerIdentity (cached)."""
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
            session = self.base if account == self.hub_account else self._assume(account)
            self._sessions[account] = session
            return session

    def has_credentials(self, account: str) -> bool:
        """Whether the role's credentials in ``account`` are already at hand (no AssumeRole needed)."""
        with self._lock:
            return account in self._credentials

    def credentials(self, account: str) -> dict[str, str] | None:
        """The role's credentials in ``account`` (assumed once, then cached), or None for the hub's own account
        (its base session signs). For :func:`scheduler.aws.session.client`'s ``credentials``."""
        if account == self.hub_account:
            return None
        with self._lock:
            cached = self._credentials.get(account)
            gate = self._gates.setdefault(account, threading.Lock())
        if cached is not None:
            return cached
        with gate:  # one AssumeRole per account, however many regions ask at once
            with self._lock:
                cached = self._credentials.get(account)
            if cached is None:
                cached = self._assume_credentials(account)
                with self._lock:
                    self._credentials[account] = cached
        return cached

    def _assume_credentials(self, account: str) -> dict[str, str]:
        kwargs: dict[str, Any] = {"RoleArn": self.role_arn(account), "RoleSessionName": "isched"}
        if self.external_id:
            kwargs["ExternalId"] = self.external_id
        try:
            creds = client("sts", session=self.base).assume_role(**kwargs)["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise AssumeRoleError(f"cannot assume {kwargs['RoleArn']}: {exc}") from None
        return {k: str(creds[k]) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}

    def _assume(self, account: str) -> boto3.Session:
        creds = self._assume_credentials(account)
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.base.region_name,
        )
