"""Cost Explorer answers for what moto cannot answer (GetCostForecast, GetReservationCoverage,
GetSavingsPlansCoverage; GetCostAndUsage where a test wants exact parameters), given to the report's real client
through botocore's ``before-call`` event, the way botocore's Stubber does: the request never leaves the process,
and every call is recorded with its parameters. Operations without a queued answer go on to moto, except the three
moto lacks, which answer AccessDeniedException (so no test waits on moto's HTTP 500 retries).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from scheduler.savings import costexplorer

MOTO_LACKS = ("GetCostForecast", "GetReservationCoverage", "GetSavingsPlansCoverage")


class CeAnswers:
    def __init__(self) -> None:
        self.queued: dict[str, list[dict[str, Any] | str]] = defaultdict(list)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def add(self, operation: str, answer: dict[str, Any] | str) -> None:
        """Queues a response (a dict) or an error (its code, a str) for ``operation`` (e.g. ``GetCostForecast``)."""
        self.queued[operation].append(answer)

    def params(self, operation: str) -> list[dict[str, Any]]:
        return [p for op, p in self.calls if op == operation]

    def count(self, operation: str) -> int:
        return len(self.params(operation))

    def _answer(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        op = model.name
        body = params.get("body")
        if isinstance(body, (bytes, str)) and body:
            import json

            sent = json.loads(body)
        else:
            sent = {}
        self.calls.append((op, sent))
        if self.queued.get(op):
            answer = self.queued[op].pop(0)
        elif op in MOTO_LACKS:
            answer = "AccessDeniedException"
        else:
            return None  # to moto
        meta = {"RequestId": "stub", "HTTPStatusCode": 200 if isinstance(answer, dict) else 400, "HTTPHeaders": {}}
        if isinstance(answer, str):
            error = {"Error": {"Code": answer, "Message": f"stubbed {answer}"}, "ResponseMetadata": meta}
            return AWSResponse("https://ce.stub", 400, {}, None), error
        return AWSResponse("https://ce.stub", 200, {}, None), {**answer, "ResponseMetadata": meta}


def install(monkeypatch: pytest.MonkeyPatch) -> CeAnswers:
    """Every Cost Explorer client the report makes from now on answers through a new :class:`CeAnswers`."""
    answers = CeAnswers()
    real = costexplorer.ce_client

    def make() -> Any:
        client = real()
        client.meta.events.register("before-call.cost-explorer.*", answers._answer)
        return client

    monkeypatch.setattr(costexplorer, "ce_client", make)
    return answers
