"""Fan-out through Lambda: one asynchronous worker invocation per target, and the payload those invocations carry.

The payload carries everything the worker needs for its pass (the pass time, its target, the tag key and the
schedules), so a worker does not read the config table again, once per target. When the schedules would make the
payload too large for an asynchronous invocation, it carries a reference instead and the worker loads the
configuration from the config table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scheduler.aws.session import client, is_account_id, is_region
from scheduler.engine import Config, ConfigError, instant_text, parse_config
from scheduler.engine.tz import year_problem
from scheduler.services.registry import SERVICES, not_a_service
from scheduler.store.state import Target

from .orchestrator import PassRequest
from .worker import ErrorRecord, WorkerResult

PAYLOAD_VERSION = 1

# Lambda's documented limit for an asynchronous (InvocationType=Event) payload is now 1 MB: "For asynchronous
# invocations, the maximum payload size is 1 MB" (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html,
# raised from 256 KB in October 2025; AWS Compute Blog "More room to build: serverless services now support
# payloads up to 1 MB", 2026-01-29). We still default to the old 256 KB: it is what every partition and older
# deployment accepts, and a schedule set that large is better read once from DynamoDB than copied into every
# one of thousands of invocations. ISCHED_MAX_PAYLOAD_BYTES raises it.
ASYNC_PAYLOAD_LIMIT = 256 * 1024


class PayloadError(ValueError):
    """A worker payload that is not what the orchestrator sends; the message names the field and the value."""

    def __init__(self, field_path: str, message: str) -> None:
        self.field = field_path
        super().__init__(f"payload.{field_path}: {message}")


@dataclass(frozen=True)
class WorkerPayload:
    """What one worker invocation receives: a pass for one target, with the configuration or a reference to it."""

    at: datetime
    target: Target
    tag_key: str = "Schedule"
    dry_run: bool = False
    config: Config | None = None  # None: load it from ``config_table``
    config_table: str | None = None
    pass_id: str | None = None  # the triggering event's id, for correlating the worker's logs with its pass

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": PAYLOAD_VERSION,
            "at": instant_text(self.at),
            "target": {"account": self.target.account, "region": self.target.region, "service": self.target.service},
            "tag_key": self.tag_key,
            "dry_run": self.dry_run,
        }
        if self.pass_id:
            out["pass_id"] = self.pass_id
        if self.config is not None:
            out["config"] = self.config.to_dict()
        else:
            out["config_ref"] = {"table": self.config_table}
        return out

    @classmethod
    def from_json(cls, raw: object) -> WorkerPayload:
        """Validates a payload; raises :class:`PayloadError` naming the first bad field."""
        if not isinstance(raw, Mapping):
            raise PayloadError("", f"{_short(raw)} is not a JSON object")
        version = raw.get("version")
        if version != PAYLOAD_VERSION:
            raise PayloadError("version", f"{version!r} is not a supported payload version ({PAYLOAD_VERSION})")
        at = _instant(raw.get("at"), "at")
        target = _target(raw.get("target"))
        tag_key = raw.get("tag_key", "Schedule")
        if (
            not isinstance(tag_key, str)
            or not 1 <= len(tag_key) <= 128
            or tag_key.lower().startswith("aws:")
            or not tag_key.isprintable()
        ):
            raise PayloadError(
                "tag_key", f"{_short(tag_key)} is not a usable tag key (1-128 printable characters, not aws:)"
            )
        dry_run = raw.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise PayloadError("dry_run", f"{_short(dry_run)} is not true or false")
        pass_id = raw.get("pass_id")
        if pass_id is not None and not isinstance(pass_id, str):
            raise PayloadError("pass_id", f"{_short(pass_id)} is not text")
        has_config, has_ref = "config" in raw, "config_ref" in raw
        if has_config == has_ref:
            raise PayloadError("config", "exactly one of 'config' and 'config_ref' is required")
        config: Config | None = None
        table: str | None = None
        if has_config:
            try:
                config = parse_config(raw["config"])
            except ConfigError as exc:
                first = exc.issues[0]
                raise PayloadError(f"config.{first.path}" if first.path else "config", first.message) from None
        else:
            ref = raw["config_ref"]
            table = ref.get("table") if isinstance(ref, Mapping) else None
            if not isinstance(table, str) or not table:
                raise PayloadError("config_ref.table", f"{_short(table)} is not a table name")
        return cls(at, target, tag_key, dry_run, config, table, pass_id)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _instant(value: object, path: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(path, f"{_short(value)} is not an ISO 8601 instant")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadError(path, f"{_short(value)} is not an ISO 8601 instant") from None
    if parsed.tzinfo is None:
        raise PayloadError(path, f"{_short(value)} has no UTC offset")
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise PayloadError(path, f"{_short(value)} is out of range") from None
    problem = year_problem(utc.year)
    if problem is not None:
        raise PayloadError(path, f"{_short(value)} is out of range ({problem})")
    return utc


def _target(raw: object) -> Target:
    if not isinstance(raw, Mapping):
        raise PayloadError("target", f"{_short(raw)} is not an object with account, region and service")
    account, region, service = raw.get("account"), raw.get("region"), raw.get("service")
    if not isinstance(account, str) or not is_account_id(account):
        raise PayloadError("target.account", f"{_short(account)} is not an AWS account id (12 digits)")
    if not isinstance(region, str) or not is_region(region):
        raise PayloadError("target.region", f"{_short(region)} is not an AWS region name (e.g. eu-west-1)")
    if service not in SERVICES:
        raise PayloadError("target.service", not_a_service(service, _short(service)))
    return Target(account, region, str(service))


class PayloadBuilder:
    """Builds each target's payload. The configuration is encoded once per pass (not once per target) and spliced
    into every payload; whether it fits inline is decided once, by the first payload."""

    def __init__(self, config: Config, config_table: str, *, limit: int = ASYNC_PAYLOAD_LIMIT) -> None:
        self.config = config
        self.config_table = config_table
        self.limit = limit
        self._inline: bool | None = None
        self._config_json: bytes | None = None
        self.config_encodings = 0  # how many times the configuration was encoded (once per pass)

    def _encoded_config(self) -> bytes:
        if self._config_json is None:
            self._config_json = _dumps_value(self.config.to_dict())
            self.config_encodings += 1
        return self._config_json

    def encode(self, target: Target, request: PassRequest, pass_id: str | None = None) -> bytes:
        if self._inline is not False:
            fields = WorkerPayload(request.at, target, request.tag_key, request.dry_run, None, None, pass_id).to_json()
            fields.pop("config_ref")
            head = _dumps_value(fields)  # a JSON object: ends with "}"
            config = self._encoded_config()
            size = len(head) + len(b',"config":') + len(config)
            if self._inline is None:
                # Targets differ only in ids of bounded length, so the first answer holds for the whole pass; the
                # margin covers a longer region name than the first target's.
                self._inline = size + 64 <= self.limit
            if self._inline:
                return head[:-1] + b',"config":' + config + b"}"
        return _dumps(
            WorkerPayload(request.at, target, request.tag_key, request.dry_run, None, self.config_table, pass_id)
        )

    @property
    def inline(self) -> bool | None:
        """Whether this pass's payloads carry the schedules (None before the first payload)."""
        return self._inline


def _dumps_value(value: object) -> bytes:
    # ASCII only: every character is then one a queue message (SQS) or an invocation payload may carry.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _dumps(payload: WorkerPayload) -> bytes:
    return _dumps_value(payload.to_json())


@dataclass
class SubmittedResult(WorkerResult):
    """An asynchronous invocation was accepted (or refused): the worker's own result goes to its logs and metrics."""

    submitted: bool = True
    request_id: str | None = None
    payload_bytes: int = 0
    inline_config: bool = True


class LambdaInvoker:
    """Sends one ``InvocationType=Event`` invocation of the worker function per target."""

    def __init__(
        self,
        function_name: str,
        payloads: PayloadBuilder,
        *,
        region: str | None = None,
        max_workers: int = 16,
        pass_id: str | None = None,
        lambda_client: Any = None,
        logger: Any = None,
    ) -> None:
        self.function_name = function_name
        self.payloads = payloads
        self.pass_id = pass_id
        self.max_workers = max_workers
        # Without retries of its own beyond isched's adaptive mode: a refused invoke is reported, and the next
        # pass catches the target up.
        self.client = lambda_client or client("lambda", region=region)
        self.logger = logger or logging.getLogger("isched.orchestrator")

    def _send(self, target: Target, request: PassRequest) -> SubmittedResult:
        body = self.payloads.encode(target, request, self.pass_id)
        inline = bool(self.payloads.inline)
        res = SubmittedResult(target, request.at, payload_bytes=len(body), inline_config=inline)
        try:
            answer = self.client.invoke(FunctionName=self.function_name, InvocationType="Event", Payload=body)
        except Exception as exc:  # one refused invocation (throttled past retries) is one target's error
            res.submitted = False
            res.errors.append(
                ErrorRecord(
                    target.account, target.region, target.service, None, f"invoke failed: {type(exc).__name__}: {exc}"
                )
            )
            return res
        res.request_id = (answer.get("ResponseMetadata") or {}).get("RequestId")
        status = int(answer.get("StatusCode") or 0)
        if status != 202:
            res.submitted = False
            res.errors.append(
                ErrorRecord(target.account, target.region, target.service, None, f"invoke answered status {status}")
            )
        return res

    def invoke(
        self, targets: Sequence[Target], request: PassRequest, on_done: Callable[[WorkerResult], None] | None = None
    ) -> list[WorkerResult]:
        if not targets:
            return []
        # The first payload decides inline vs reference for the pass; sent alone so the others need not race it.
        first = self._send(targets[0], request)
        results: list[WorkerResult] = [first]
        if on_done is not None:
            on_done(first)
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(targets) - 1))) as pool:
            for res in pool.map(lambda t: self._send(t, request), targets[1:]):
                results.append(res)
                if on_done is not None:
                    on_done(res)
        return results
