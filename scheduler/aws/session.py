"""The one place boto3 sessions and clients are made.

Every client honours the standard AWS variables (profiles, ``AWS_DEFAULT_REGION``) and the endpoint override
(``AWS_ENDPOINT_URL_<SERVICE>`` then ``AWS_ENDPOINT_URL``), so the same code runs against AWS, a moto server or
LocalStack. Retries use botocore's ``adaptive`` mode, which also rate-limits the client under throttling.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from scheduler import __version__

DEFAULT_REGION = "us-east-1"
_ACCOUNT_ID = re.compile(r"^[0-9]{12}\Z")
_REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}\Z")
MAX_ATTEMPTS = 8


def client_config(**overrides: Any) -> Config:
    base = Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        user_agent_extra=f"isched/{__version__}",
        connect_timeout=10,
        read_timeout=60,
    )
    return base.merge(Config(**overrides)) if overrides else base


def is_account_id(value: object) -> bool:
    """A 12-digit AWS account id."""
    return isinstance(value, str) and bool(_ACCOUNT_ID.match(value))


def is_region(value: object) -> bool:
    """Shaped like an AWS region name (eu-west-1, us-gov-west-1); whether it exists is AWS's to say."""
    return isinstance(value, str) and bool(_REGION_NAME.match(value))


def endpoint_url(service: str) -> str | None:
    """The endpoint override for ``service`` from the environment, if any."""
    specific = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}")
    return specific or os.environ.get("AWS_ENDPOINT_URL") or None


def default_region(session: boto3.Session | None = None) -> str:
    region = (session.region_name if session is not None else None) or os.environ.get("AWS_REGION")
    return region or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


_LOADER_LOCK = threading.Lock()
_LOADER: list[botocore.loaders.Loader] = []


def shared_loader() -> botocore.loaders.Loader:
    """The process's one botocore model loader. A loader caches every service model it parses; each new botocore
    session would otherwise start with an empty one and parse its services' models again (EC2's alone is tens of
    megabytes once parsed, and about half a second of CPU)."""
    with _LOADER_LOCK:
        if not _LOADER:
            loader = botocore.loaders.create_loader()
            loader.search_paths.append(os.path.join(os.path.dirname(boto3.__file__), "data"))  # as boto3 does
            _LOADER.append(loader)
        return _LOADER[0]


def new_botocore_session() -> botocore.session.Session:
    """A botocore session (credentials, region and profile from the environment, as always) on the shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", shared_loader())
    return core


def new_session(
    region_name: str | None = None, botocore_session: botocore.session.Session | None = None
) -> boto3.Session:
    """A boto3 session on the shared model loader: the one way isched makes a session. ``botocore_session``: one with
    credentials of its own (an assumed role); it is given the shared loader."""
    core = botocore_session or new_botocore_session()
    loader = shared_loader()
    core.register_component("data_loader", loader)
    made = boto3.Session(botocore_session=core, region_name=region_name)
    with _LOADER_LOCK:
        # boto3 adds its data folder to the loader's search paths with every session: once is enough.
        loader.search_paths[:] = list(dict.fromkeys(loader.search_paths))
    return made


def _on_shared_loader(session: boto3.Session) -> None:
    """Gives a caller's session the shared loader before a client is made of it (the models are the same data)."""
    core = session._session
    loader = shared_loader()
    if core.get_component("data_loader") is not loader:
        core.register_component("data_loader", loader)


_CALLS = threading.local()


def _count_call(model: Any, **_: Any) -> None:
    counter: Counter[str] | None = getattr(_CALLS, "counter", None)
    if counter is not None:
        counter[f"{model.service_model.service_name}:{model.name}"] += 1


def instrument(made: Any) -> Any:
    """Lets :func:`counting_calls` count ``made``'s API calls (a botocore ``before-call`` hook; retries are
    not separate calls). Every client :func:`client` makes is instrumented; returns ``made``."""
    made.meta.events.register("before-call", _count_call, unique_id="isched-count-calls")
    return made


@contextmanager
def counting_calls() -> Iterator[Counter[str]]:
    """Counts the API calls this thread makes through instrumented clients, by ``service:Operation``.

    Per thread, because a pass of one target runs in one thread while other targets' passes run in others."""
    outer = getattr(_CALLS, "counter", None)
    counter: Counter[str] = Counter()
    _CALLS.counter = counter
    try:
        yield counter
    finally:
        _CALLS.counter = outer
        if outer is not None:
            outer.update(counter)


_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 512


def client(
    service: str,
    region: str | None = None,
    session: boto3.Session | None = None,
    *,
    credentials: Mapping[str, str] | None = None,
    **config: Any,
) -> Any:
    """A client for ``service`` in ``region`` with isched's retry and endpoint policy.

    Clients are cached per session, service, region and endpoint: making one costs tens of milliseconds, more
    than most calls, and a pass (or a warm Lambda container) asks for the same few again and again. boto3 clients
    are thread-safe, so workers in threads share them.

    ``credentials`` (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``, as STS returns them) makes an uncached
    client of ``session`` that signs with them: a few milliseconds, where a new session per set of credentials
    costs tens (its model loader starts empty), which matters when one pass reaches hundreds of accounts.
    """
    if session is not None:
        _on_shared_loader(session)
    if credentials is not None:
        base = session or new_session()
        return base.client(
            service,
            region_name=region or default_region(base),
            endpoint_url=endpoint_url(service),
            config=client_config(**config),
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
        )
    if session is None:
        # No session: the environment decides (it may change between calls), so nothing is cached.
        session = new_session()
        return instrument(
            session.client(
                service,
                region_name=region or default_region(session),
                endpoint_url=endpoint_url(service),
                config=client_config(**config),
            )
        )
    region_name = region or default_region(session)
    key = (id(session), service, region_name, endpoint_url(service), tuple(sorted(config.items())))
    with _CLIENTS_LOCK:
        cached = _CLIENTS.get(key)
        if cached is not None and cached[0] is session:
            return cached[1]
    made = instrument(
        session.client(service, region_name=region_name, endpoint_url=key[3], config=client_config(**config))
    )
    with _CLIENTS_LOCK:
        if len(_CLIENTS) >= _MAX_CLIENTS:
            _CLIENTS.clear()
        _CLIENTS[key] = (session, made)  # the session is kept so its id cannot be reused by another
    return made


def reset_clients() -> None:
    """Forgets cached clients (after endpoints change, e.g. between simulated environments)."""
    with _CLIENTS_LOCK:
        _CLIENTS.clear()
