"""The AWS clients one tagging command uses."""

from __future__ import annotations

from typing import Any

import boto3

from scheduler.aws import session as aws


class Clients:
    """One client per (service, region) for the length of one command, all from the same session."""

    def __init__(self, session: boto3.Session | None = None) -> None:
        self.session = session or aws.new_session()
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = aws.client(service, region=region, session=self.session)
        return self._clients[key]

    def default_region(self) -> str:
        return aws.default_region(self.session)

    def partition(self, region: str) -> str:
        try:
            return str(self.session.get_partition_for_region(region))
        except Exception:  # an unknown region (new, or a local endpoint's invention) is still in the aws partition
            return "aws"
