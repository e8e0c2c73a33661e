"""Reading Instance Scheduler on AWS's configuration table (DynamoDB, keyed by ``type`` and ``name``).

The table is checked before it is read: it must exist and be keyed by ``type`` and ``name`` (so pointing the import
at another table, isched's own included, reads nothing). Then it is scanned, page by page, consistently, up to
:data:`MAX_ITEMS` items: an Instance Scheduler configuration holds tens of items, and a table with more than that is
not one.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import client
from scheduler.engine.errors import quote
from scheduler.services.common import aws_error

MAX_ITEMS = 5_000
KEY_ATTRIBUTES = frozenset({"type", "name"})
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


class TableError(Exception):
    """The table cannot be imported: it is missing, is not an Instance Scheduler table, or is too large.
    The user's input (``--table``), so nothing is written."""


class ReadError(Exception):
    """DynamoDB could not be read (permissions, network): not the user's input."""


def check_table_name(name: str) -> None:
    """DynamoDB's rule for table names (3-255 letters, digits, ``_``, ``-``, ``.``); :class:`TableError` if not."""
    if not _TABLE_NAME.fullmatch(name):
        raise TableError(f"{quote(name)} is not a DynamoDB table name (3-255 letters, digits, '_', '-' and '.')")


def read_items(table: str, *, max_items: int = MAX_ITEMS) -> list[dict[str, Any]]:
    """Every item of the Instance Scheduler configuration table ``table``, as DynamoDB attribute values."""
    check_table_name(table)
    ddb = client("dynamodb")
    try:
        described = ddb.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise TableError(f"table {quote(table)} does not exist in this account and region") from None
        raise ReadError(f"cannot describe table {quote(table)}: {aws_error(exc)}") from None
    except BotoCoreError as exc:
        raise ReadError(f"cannot reach DynamoDB: {exc}") from None
    keys = {k.get("AttributeName") for k in described.get("KeySchema", [])}
    if keys != KEY_ATTRIBUTES:
        shown = ", ".join(sorted(str(k) for k in keys))
        raise TableError(
            f"table {quote(table)} is not an Instance Scheduler configuration table (its key is {shown}, not "
            "type and name)"
        )
    items: list[dict[str, Any]] = []
    try:
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(page.get("Items", []))
            if len(items) > max_items:
                raise TableError(
                    f"table {quote(table)} holds more than {max_items:,} items: not an Instance Scheduler "
                    "configuration table"
                )
    except ClientError as exc:
        raise ReadError(f"cannot read table {quote(table)}: {aws_error(exc)}") from None
    except BotoCoreError as exc:
        raise ReadError(f"cannot reach DynamoDB: {exc}") from None
    return items
