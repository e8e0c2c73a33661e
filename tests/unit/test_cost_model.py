"""benchmarks/cost.py's model, rebuilt by hand from made-up measurements: passes, Lambda requests and GB-seconds at
the function's vCPU share, SQS requests, and the template's alarm metrics."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import cost  # noqa: E402


def inv(cpu: float, calls: int, *, wru: int = 0, rru: int = 0, log_bytes: int = 0, lines: int = 0) -> cost.Invocation:
    return cost.Invocation(Counter({"ec2:DescribeInstances": calls}), wru, rru, cpu, log_bytes, lines, set())


@pytest.fixture
def measured() -> tuple[cost.WorkerPasses, cost.OrchestratorRuns]:
    workers = cost.WorkerPasses(quiet={"ec2": inv(0.1, 4)}, busy={"ec2": inv(0.3, 20)}, message_bytes=2000)
    one = inv(0.5, 2)
    runs = cost.OrchestratorRuns(one=one, looked_up=one, sent=one, sent_one=one, more_messages=1)
    return workers, runs


def test_passes_requests_and_duration_from_first_principles(measured):
    workers, runs = measured
    fleet = cost.Fleet("t", accounts=3, regions=2, ec2=10, rds=0)
    inputs = cost.Inputs(latency_ms=0.0, cold_fraction=0.0, memory_mb=1769, wake_ups_per_day=12)
    lines = {line.item: line for line in cost.model(fleet, workers, runs, 0.0, (12, 6), inputs)}
    passes = (288 + 12) * 730 / 24
    busy, quiet = 44, passes - 44
    # 6 places, EC2 only: 6 messages a pass, in ceil(6 / 5) = 2 worker invocations, plus the orchestrator.
    requests = passes * (1 + 2)
    assert lines["Lambda requests"].usd == pytest.approx(requests * 0.20 / 1e6)
    # At 1,769 MB a CPU second is a second; no latency, no cold start.
    gb_seconds = passes * 0.5 * (1769 / 1024) + 6 * (quiet * 0.1 + busy * 0.3) * (1769 / 1024)
    assert lines["Lambda duration (arm64)"].usd == pytest.approx(gb_seconds * 0.0000133334)
    # One SendMessageBatch, a receive and a delete per batch delivered, and the mapping's idle polling.
    sqs = passes * (1 + 2 * 2) + 15 * 60 * 730
    assert lines["SQS requests"].usd == pytest.approx(sqs * 0.40 / 1e6)
    assert lines["CloudWatch alarms"].usd == pytest.approx(1.20)


def duration_usd(measured, memory_mb: int, latency_ms: float) -> float:
    workers, runs = measured
    fleet = cost.Fleet("t", accounts=1, regions=1, ec2=10, rds=0)
    lines = cost.model(fleet, workers, runs, 0.0, (12, 6), cost.Inputs(latency_ms, 0.0, memory_mb, 0))
    return next(line.usd for line in lines if line.item.startswith("Lambda duration"))


def test_below_one_vcpu_cpu_time_costs_the_same_at_any_memory_and_waiting_costs_by_memory(measured):
    # CPU scales with memory up to 1,769 MB: a quarter of the memory runs four times longer, the same GB-seconds.
    assert duration_usd(measured, 256, 0.0) == pytest.approx(duration_usd(measured, 1769, 0.0))
    # Waiting for AWS does not speed up with memory: it costs in proportion to it.
    waiting_256 = duration_usd(measured, 256, 25.0) - duration_usd(measured, 256, 0.0)
    waiting_1769 = duration_usd(measured, 1769, 25.0) - duration_usd(measured, 1769, 0.0)
    assert waiting_256 > 0 and waiting_1769 / waiting_256 == pytest.approx(1769 / 256)


def test_alarm_metrics_are_counted_from_the_template():
    total, own = cost.alarm_metrics(ROOT / "template.yaml")
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    assert text.count("Type: AWS::CloudWatch::Alarm") <= total  # a metric-math alarm counts each of its metrics
    assert 0 < own < total
