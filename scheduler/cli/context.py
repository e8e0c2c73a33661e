"""Per-invocation access to the deployment's tables, from ``--namespace`` / ``ISCHED_NAMESPACE``."""

from __future__ import annotations

import click

from scheduler.store.config import ConfigStore
from scheduler.store.tables import NamespaceError, Tables

from .errors import InputError


def tables(ctx: click.Context) -> Tables:
    obj = ctx.find_root().ensure_object(dict)
    cached = obj.get("tables")
    if isinstance(cached, Tables):
        return cached
    try:
        t = Tables.for_namespace(str(obj.get("namespace") or "default"))
    except NamespaceError as exc:
        raise InputError(str(exc), "--namespace") from None
    obj["tables"] = t
    return t


def config_store(ctx: click.Context) -> ConfigStore:
    obj = ctx.find_root().ensure_object(dict)
    store = obj.get("config_store")
    if not isinstance(store, ConfigStore):
        store = obj["config_store"] = ConfigStore(tables(ctx))
    return store
