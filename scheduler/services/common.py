"""Helpers every service module uses: AWS error text, tag lists, batching."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")


def aws_error(exc: Exception) -> str:
    """A one-line reason for an AWS failure: the error code and AWS's own message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code") or "Error"
        message = error.get("Message") or str(exc)
        return f"{code}: {message}"
    return str(exc) or type(exc).__name__


def tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """An AWS tag list (``[{"Key": …, "Value": …}]``) as a dict."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or () if "Key" in t}


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size`` (at least 1)."""
    size = max(1, size)
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def unique(ids: Iterable[str]) -> list[str]:
    """``ids`` without repeats, in first-seen order (a resource named twice is acted on once)."""
    return list(dict.fromkeys(ids))
