"""Fan-out through a queue: one SQS message per target, sent ten to a ``SendMessageBatch``.

The worker function reads the queue through a Lambda event source mapping, which gives what a loop of
asynchronous invocations cannot: back-pressure (the mapping's ``MaximumConcurrency`` bounds how many workers run at
once, the rest wait in the queue), retries with a visibility timeout (a message whose pass raised a retryable error
comes back), and a dead-letter queue for a message that failed every receive (alarmed on). The messages carry the
same payload as an asynchronous invocation (:class:`PayloadBuilder`: the configuration inline, encoded once per
pass, or a reference to the config table).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scheduler.aws.session import client
from scheduler.services.common import aws_error
from scheduler.store.state import Target

from .lambda_invoker import PayloadBuilder, SubmittedResult
from .orchestrator import PassRequest
from .worker import ErrorRecord, WorkerResult

# SendMessageBatch: at most 10 messages, and 256 KiB (262,144 bytes) for the whole batch and for one message
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html). SQS has
# accepted up to 1 MiB since August 2025; the older limit holds in every partition and older queue.
MAX_BATCH_MESSAGES = 10
MAX_BATCH_BYTES = 256 * 1024
# Entries SQS refused for its own reasons (SenderFault false: throttled, internal error) are sent again this many
# times, with a short back-off; an entry refused for the sender's fault is an error at once.
ENTRY_RETRIES = 3


def batches(
    bodies: Sequence[bytes], *, count: int = MAX_BATCH_MESSAGES, size: int = MAX_BATCH_BYTES
) -> list[list[int]]:
    """Indexes of ``bodies`` in consecutive batches of at most ``count`` messages and ``size`` bytes together."""
    out: list[list[int]] = []
    current: list[int] = []
    used = 0
    for n, body in enumerate(bodies):
        if current and (len(current) >= count or used + len(body) > size):
            out.append(current)
            current, used = [], 0
        current.append(n)
        used += len(body)
    if current:
        out.append(current)
    return out


class SqsInvoker:
    """Sends each target's worker payload to the worker queue, in batches of 10 sent ``max_workers`` at a time."""

    def __init__(
        self,
        queue_url: str,
        payloads: PayloadBuilder,
        *,
        region: str | None = None,
        max_workers: int = 8,
        pass_id: str | None = None,
        sqs_client: Any = None,
        logger: Any = None,
        backoff_seconds: float = 0.2,
    ) -> None:
        self.queue_url = queue_url
        self.payloads = payloads
        self.pass_id = pass_id
        self.max_workers = max_workers
        self.client = sqs_client or client("sqs", region=region)
        self.logger = logger or logging.getLogger("isched.orchestrator")
        self.backoff_seconds = backoff_seconds
        self.calls = 0  # SendMessageBatch calls of the last invoke

    def invoke(
        self, targets: Sequence[Target], request: PassRequest, on_done: Callable[[WorkerResult], None] | None = None
    ) -> list[WorkerResult]:
        bodies = [self.payloads.encode(t, request, self.pass_id) for t in targets]
        inline = bool(self.payloads.inline)
        results: list[SubmittedResult] = [
            SubmittedResult(t, request.at, payload_bytes=len(b), inline_config=inline)
            for t, b in zip(targets, bodies, strict=True)
        ]
        groups = batches(bodies)
        self.calls = 0
        if groups:
            with ThreadPoolExecutor(max_workers=max(1, min(self.max_workers, len(groups)))) as pool:
                self.calls = sum(pool.map(lambda g: self._send(g, bodies, results), groups))
        if on_done is not None:
            for res in results:
                on_done(res)
        return list(results)

    def _send(self, group: list[int], bodies: Sequence[bytes], results: list[SubmittedResult]) -> int:
        """Sends one batch (again for the entries SQS failed on its side); marks each result; returns the calls."""
        pending = list(group)
        calls = 0
        for attempt in range(ENTRY_RETRIES + 1):
            entries = [{"Id": str(n), "MessageBody": bodies[n].decode("ascii")} for n in pending]
            calls += 1
            try:
                answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception as exc:  # the whole call failed past botocore's retries: these targets' error
                for n in pending:
                    self._refuse(results[n], f"send failed: {aws_error(exc)}")
                return calls
            for ok in answer.get("Successful") or []:
                results[int(ok["Id"])].request_id = ok.get("MessageId")
            retry: list[int] = []
            for failed in answer.get("Failed") or []:
                n = int(failed["Id"])
                why = f"{failed.get('Code') or 'Error'}: {failed.get('Message') or 'refused'}"
                if failed.get("SenderFault") or attempt == ENTRY_RETRIES:
                    self._refuse(results[n], f"send refused: {why}")
                else:
                    retry.append(n)
            if not retry:
                return calls
            pending = retry
            time.sleep(self.backoff_seconds * (2**attempt))
        return calls

    @staticmethod
    def _refuse(res: SubmittedResult, text: str) -> None:
        t = res.target
        res.submitted = False
        res.errors.append(ErrorRecord(t.account, t.region, t.service, None, text))
