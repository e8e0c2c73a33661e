"""A moto server on loopback for integration tests: real HTTP, reached through ``AWS_ENDPOINT_URL``.

One server per test process (pytest-xdist workers each get their own). Tests of a module keep apart by using their
own namespace (tables) or resources; the server forgets everything after each module, so no module sees another's
resources and its memory is that of one module. Every test here is marked ``integration``: ``pytest -m "not
integration"`` is the fast loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_started: list[int] = []


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Starts moto's threaded server on 127.0.0.1 and points every AWS client at it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request would bury test output
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    _started.append(port)
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        os.environ.pop(key, None)
    try:
        yield url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


@pytest.fixture
def aws(moto_server: str) -> str:
    """The moto endpoint, for tests that talk to AWS."""
    return moto_server


@pytest.fixture
def namespace(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A namespace of this test's own (its own tables), also set as ISCHED_NAMESPACE."""
    ns = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("ISCHED_NAMESPACE", ns)
    return ns


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module", autouse=True)
def _reset_moto_after_module() -> Iterator[None]:
    """Forgets every simulated resource once a module is done: modules never see each other's resources (a pass
    in one region acts on every tagged instance there), and the server's memory stays that of one module."""
    yield
    if not _started:
        return  # no test of this module started the server
    from scheduler.aws.accounts import forget_warm_sessions
    from scheduler.aws.session import reset_clients

    reset_clients()
    forget_warm_sessions()
    url = f"http://127.0.0.1:{_started[-1]}/moto-api/reset"
    with contextlib.suppress(OSError):
        urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30).close()


@pytest.fixture
def point_at(aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[str], str]:
    """Points the CLI and every client at a region (returned), with a price cache of this test's own."""
    monkeypatch.setenv("ISCHED_PRICE_CACHE", str(tmp_path / "cache" / "prices.json"))

    def point(region: str) -> str:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)
        monkeypatch.setenv("AWS_REGION", region)
        return region

    return point


@pytest.fixture
def deploy(
    point_at: Callable[[str], str], run: Callable[..., Any], namespace: str, write: Callable[..., str]
) -> Callable[[str, str], str]:
    """The tables of this test's namespace, made from a region (returned) with a schedule file's text applied."""

    def make(region: str, schedules: str) -> str:
        point_at(region)
        assert run("init").code == 0
        assert run("apply", "--file", write(schedules)).code == 0
        return region

    return make
