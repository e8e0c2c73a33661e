"""LogLevel switches the worker's per-resource decision lines: at INFO only the resources acted on have one, at
DEBUG every resource of the pass has one (tests/unit/test_observability.py: the level reaches the logger)."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_lambda_powertools import Logger

from scheduler.engine import parse_text
from scheduler.handlers import orchestrator, worker
from scheduler.runtime.lambda_invoker import LambdaInvoker, PayloadBuilder
from scheduler.store.config import ConfigStore
from scheduler.store.pass_scope import publish_scope
from scheduler.store.tables import Tables

from .hub_helpers import EVENT, HUB, SCHEDULES, InProcessLambda, event_clock, launch, unique
from .test_handlers import settings

# Regions for which moto loads only its few default AMIs (fast EC2 backends); one per pass, so that each pass has
# a target of its own.
REGIONS = {"INFO": "mx-central-1", "DEBUG": "ap-southeast-6"}


@pytest.fixture(autouse=True)
def _event_day(monkeypatch: pytest.MonkeyPatch) -> None:
    event_clock(monkeypatch)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_decision_lines_of_resources_left_alone_only_at_debug(namespace, monkeypatch, capsys, level):
    tables = Tables.for_namespace(namespace)
    tables.create_missing()
    ConfigStore(tables).apply(parse_text(SCHEDULES), prune=False, dry_run=False)
    region = REGIONS[level]
    at = orchestrator.ScheduledEvent.from_event(EVENT).at
    publish_scope(tables, ConfigStore(tables).load(), [HUB], [region], ["ec2"], at)
    tag_key = unique("Sched")
    session = boto3.Session()
    running = launch(session, region, tag_key, "office")  # after office hours: stopped by this pass
    idle = launch(session, region, tag_key, "office")
    session.client("ec2", region_name=region).stop_instances(InstanceIds=[idle])  # already as the schedule wants
    # The logger Lambda would have made at a cold start with POWERTOOLS_LOG_LEVEL=level (a service name of its own:
    # Powertools keeps the level of a logger already set up in this process).
    monkeypatch.setattr(worker, "logger", Logger(service=unique("isched-worker-"), level=level))
    lam = InProcessLambda(tables)
    invoker = LambdaInvoker(
        "isched-test-worker", PayloadBuilder(ConfigStore(tables).load(), tables.names.config), lambda_client=lam
    )
    capsys.readouterr()
    orchestrator.orchestrate(
        EVENT, settings=settings(tag_key=tag_key, regions=(region,)), invoker=invoker, tables=tables
    )
    assert lam.answers[0]["status"] == "done" and lam.answers[0]["managed"] == 2
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{") and '"rule"' in x]
    decisions = {line["resource"]: (line["level"], line["action"]) for line in lines}
    expected = {running: ("INFO", "stop")}
    if level == "DEBUG":
        expected[idle] = ("DEBUG", "none")
    assert decisions == expected
