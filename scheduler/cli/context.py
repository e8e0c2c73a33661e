"""Per-invocation access to the deployment's tables, from ``--stack`` or ``--namespace`` / ``ISCHED_NAMESPACE``."""

from __future__ import annotations

import click
from botocore.exceptions import ClientError

from scheduler.aws.session import client
from scheduler.store.config import ConfigStore
from scheduler.store.tables import NamespaceError, TableNames, Tables

from .errors import InputError

STACK_OUTPUTS = ("ConfigTable", "StateTable", "LedgerTable")


def tables(ctx: click.Context) -> Tables:
    obj = ctx.find_root().ensure_object(dict)
    cached = obj.get("tables")
    if isinstance(cached, Tables):
        return cached
    stack = obj.get("stack")
    if stack:
        t = Tables.for_names(stack_table_names(str(stack)))
    else:
        try:
            t = Tables.for_namespace(str(obj.get("namespace") or "default"))
        except NamespaceError as exc:
            raise InputError(str(exc), "--namespace") from None
    obj["tables"] = t
    return t


def stack_table_names(stack: str) -> TableNames:
    """The table names a deployed hub stack exports (template.yaml's outputs), read with DescribeStacks."""
    try:
        found = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        # CloudFormation answers a missing stack with a ValidationError "Stack with id X does not exist".
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            raise InputError(f"stack '{stack}' does not exist in this account and region", "--stack") from None
        raise
    if not found:
        raise InputError(f"stack '{stack}' does not exist in this account and region", "--stack")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found[0].get("Outputs") or []}
    missing = [k for k in STACK_OUTPUTS if not outputs.get(k)]
    if missing:
        raise InputError(
            f"stack '{stack}' has no output {', '.join(missing)} (is it an isched hub stack from template.yaml?)",
            "--stack",
        )
    return TableNames(config=outputs["ConfigTable"], state=outputs["StateTable"], ledger=outputs["LedgerTable"])


def default_timezone(ctx: click.Context | None) -> str:
    """The zone of schedules that name none (``--default-timezone`` / ``ISCHED_DEFAULT_TIMEZONE``, validated)."""
    if ctx is None:
        return "UTC"
    return str(ctx.find_root().ensure_object(dict).get("default_timezone") or "UTC")


def config_store(ctx: click.Context) -> ConfigStore:
    obj = ctx.find_root().ensure_object(dict)
    store = obj.get("config_store")
    if not isinstance(store, ConfigStore):
        store = obj["config_store"] = ConfigStore(tables(ctx), default_timezone(ctx))
    return store
