"""Shared benchmark plumbing: an in-process simulated AWS and a per-operation API call counter.

Calls are counted with botocore's event hooks (``before-call``) on every client botocore creates, which covers
boto3 clients and PynamoDB's own connection alike.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._original: Any = None

    def _hook(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def install(self) -> None:
        original = botocore.session.Session.create_client
        counter = self

        def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(self, *args, **kwargs)
            # Clients of one botocore session share their handler tree: register once per tree, not per client.
            client.meta.events.register("before-call", counter._hook, unique_id="isched-call-counter")
            return client

        self._original = original
        botocore.session.Session.create_client = create_client

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.session.Session.create_client = self._original

    def reset(self) -> Counter[str]:
        snapshot = Counter(self.calls)
        self.calls.clear()
        return snapshot


@contextmanager
def simulated_aws(region: str = "us-east-1") -> Iterator[None]:
    """moto in-process (no HTTP), with credentials and region set for the duration."""
    from moto import mock_aws

    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    saved = {k: os.environ.get(k) for k in [*env, "AWS_ENDPOINT_URL"]}
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with mock_aws():
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
