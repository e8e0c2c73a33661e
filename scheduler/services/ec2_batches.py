"""Batched EC2 calls with bisection: a failed batch is split until the failing ids stand alone, so one instance AWS
refuses (wrong state, insufficient capacity, a tag-conditioned IAM deny) never keeps the rest of its batch from acting,
and its error is reported against its own id."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .base import ActionResult
from .common import aws_error, chunks

log = logging.getLogger(__name__)

# Errors that concern the request or the caller, never one instance: bisecting a batch that failed with one of these
# would only repeat the failure 2n-1 times. Everything else (including UnauthorizedOperation, which a policy
# conditioned on the schedule tag raises for one untagged instance) may be about a single id, so it is bisected.
WHOLE_REQUEST_ERRORS = frozenset(
    {
        "AuthFailure",
        "Blocked",
        "ExpiredToken",
        "InternalError",
        "InvalidClientTokenId",
        "OptInRequired",
        "RequestExpired",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "SignatureDoesNotMatch",
        "Throttling",
        "ThrottlingException",
        "Unavailable",
        "UnrecognizedClientException",
    }
)

Call = Callable[[list[str]], Mapping[str, dict[str, Any]]]
Fallback = Callable[[str, ClientError], ActionResult]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def run_bisected(
    ids: Sequence[str],
    size: int,
    call: Call,
    fallback: Fallback | None = None,
    whole_request_errors: frozenset[str] = WHOLE_REQUEST_ERRORS,
) -> dict[str, ActionResult]:
    """Runs ``call`` on batches of at most ``size`` ids; a failed batch is split in halves, recursively.

    ``call`` returns details per id for the ids it acted on. An id that fails on its own gets ``fallback(id, error)``
    when given (e.g. a plain stop after a refused hibernation), else a failed result with the AWS error.
    """
    results: dict[str, ActionResult] = {}
    for batch in chunks(ids, size):
        results |= _attempt(batch, call, fallback, whole_request_errors)
    return results


def _attempt(
    batch: list[str], call: Call, fallback: Fallback | None, whole_request_errors: frozenset[str]
) -> dict[str, ActionResult]:
    try:
        details = call(batch)
    except ClientError as exc:
        if len(batch) == 1:
            if fallback is not None:
                return {batch[0]: fallback(batch[0], exc)}
            return {batch[0]: ActionResult(batch[0], ok=False, error=aws_error(exc))}
        if error_code(exc) in whole_request_errors:
            return _all_failed(batch, exc)
        half = len(batch) // 2
        log.info("batch of %d failed (%s); splitting to isolate the failing ids", len(batch), aws_error(exc))
        return _attempt(batch[:half], call, fallback, whole_request_errors) | _attempt(
            batch[half:], call, fallback, whole_request_errors
        )
    except BotoCoreError as exc:  # no answer at all (connection, credentials): nothing to isolate
        return _all_failed(batch, exc)
    return {i: ActionResult(i, ok=True, details=dict(details.get(i, {}))) for i in batch}


def _all_failed(batch: Iterable[str], exc: Exception) -> dict[str, ActionResult]:
    message = aws_error(exc)
    return {i: ActionResult(i, ok=False, error=message) for i in batch}
