"""Shared benchmark plumbing: an in-process simulated AWS and a per-operation API call counter.

Calls are counted with botocore's event hooks (``before-call``) on every client botocore creates, which covers
boto3 clients and PynamoDB's own connection alike.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.session


def hook_all_clients(handlers: dict[str, Callable[..., Any]], prefix: str) -> Callable[[], None]:
    """Registers ``{event: handler}`` on every client botocore creates from now on; returns the undo.

    Clients of one botocore session share their handler tree, so each handler is registered once per tree
    (``unique_id``), not once per client.
    """
    original = botocore.session.Session.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = original(self, *args, **kwargs)
        for event, handler in handlers.items():
            client.meta.events.register(event, handler, unique_id=f"{prefix}-{event}")
        return client

    botocore.session.Session.create_client = create_client

    def undo() -> None:
        botocore.session.Session.create_client = original

    return undo


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._undo: Callable[[], None] | None = None

    def _hook(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def install(self) -> None:
        self._undo = hook_all_clients({"before-call": self._hook}, "isched-call-counter")

    def uninstall(self) -> None:
        if self._undo is not None:
            self._undo()

    def reset(self) -> Counter[str]:
        snapshot = Counter(self.calls)
        self.calls.clear()
        return snapshot


@contextmanager
def simulated_aws(region: str = "us-east-1") -> Iterator[None]:
    """moto in-process (no HTTP), with credentials and region set for the duration."""
    from moto import mock_aws

    from scheduler.demo.lean_moto import default_images_only

    default_images_only()

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
