"""Sessions per account: the hub's own credentials for its account, an assumed spoke role for the others."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .session import client

DEFAULT_ROLE_NAME = "isched-spoke"


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
        self._hub: str | None = None

    @property
    def hub_account(self) -> str:
        if self._hub is None:
            ident = client("sts", session=self.base).get_caller_identity()
            self._hub = str(ident["Account"])
        return self._hub

    def role_arn(self, account: str) -> str:
        return f"arn:aws:iam::{account}:role/{self.role_name}"

    def session(self, account: str) -> boto3.Session:
        with self._lock:
            cached = self._sessions.get(account)
            if cached is not None:
                return cached
            session = self.base if account == self.hub_account else self._assume(account)
            self._sessions[account] = session
            return session

    def _assume(self, account: str) -> boto3.Session:
        kwargs: dict[str, Any] = {"RoleArn": self.role_arn(account), "RoleSessionName": "isched"}
        if self.external_id:
            kwargs["ExternalId"] = self.external_id
        try:
            creds = client("sts", session=self.base).assume_role(**kwargs)["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise AssumeRoleError(f"cannot assume {kwargs['RoleArn']}: {exc}") from None
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.base.region_name,
        )
