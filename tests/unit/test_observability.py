"""What the hub stack observes: the dashboard and the alarms plot and watch metrics the code really emits, failed
invocations have a destination the function may publish to, the worker's reserved concurrency is a switch, and
LogLevel reaches the functions' logger.

The metrics the code emits are read from its own EMF output: the worker's publishing functions run with the
environment template.yaml gives the worker, and their CloudWatch Embedded Metric Format lines (namespace,
dimension sets, metric names) are parsed from stdout.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler.handlers import common, worker
from scheduler.runtime.lambda_invoker import PayloadError
from scheduler.runtime.worker import ActionRecord, WorkerResult
from scheduler.store.state import Target
from tests.unit.test_policies import ROOT, checker

TEMPLATE = checker.load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
LAMBDA_METRICS = {"Invocations", "Errors", "Throttles", "Duration", "ConcurrentExecutions"}
_SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}\s+MetricName=\"(?P<name>[^\"]+)\"'")
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Plotted:
    namespace: str
    name: str
    dimensions: frozenset[str]
    function: str | None = None  # the ${Function} a Lambda metric's FunctionName names


def _function_env(logical_id: str) -> dict[str, str]:
    """The environment template.yaml gives a function: Globals, then the function's own (literal values only)."""
    env = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    env.update(RESOURCES[logical_id]["Properties"].get("Environment", {}).get("Variables", {}))
    return {k: v for k, v in env.items() if isinstance(v, str)}


def emitted_metrics(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> set[Plotted]:
    """Every (namespace, metric, dimension set) the worker publishes, from its EMF lines."""
    for key, value in _function_env("WorkerFunction").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # PublishMetrics=true, the default
    metrics = common.make_metrics()
    target = Target("123456789012", "eu-west-1", "ec2")
    result = WorkerResult(target, datetime(2026, 3, 2, 20, tzinfo=UTC), managed=3)
    result.actions = [
        ActionRecord(target.account, target.region, "ec2", f"i-{n}", "office", action, "transition")
        for n, action in enumerate(("start", "stop"))
    ]
    result.error("i-2", "UnauthorizedOperation")
    capsys.readouterr()
    common.publish_worker_metrics(metrics, "ec2", result, common.real_errors(result))
    common.publish_skip_metric(metrics, "ec2")
    monkeypatch.setattr(worker, "metrics", metrics)
    worker._reject(PayloadError("target.account", "'1' is not an AWS account id"))
    found: set[Plotted] = set()
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' not in line:
            continue
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            for dims in directive["Dimensions"]:
                for m in directive["Metrics"]:
                    found.add(Plotted(directive["Namespace"], m["Name"], frozenset(dims)))
    return found


def dashboard_body(**values: str) -> dict[str, Any]:
    """The dashboard's JSON with every ${Variable} replaced: by ``values``, a parameter's default, or its name."""
    defaults = {k: str(v["Default"]) for k, v in TEMPLATE["Parameters"].items() if "Default" in v}
    text = RESOURCES["PassDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return dict(json.loads(_SUB_VARIABLE.sub(lambda m: {**defaults, **values}.get(m.group(1), m.group(1)), text)))


def plotted(body: dict[str, Any]) -> list[Plotted]:
    """The metrics each metric widget plots: explicit ones and those a SEARCH expression finds."""
    out: list[Plotted] = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                match = _SEARCH.search(row[0]["expression"])
                assert match, f"an expression the test cannot read: {row[0]['expression']}"
                namespace, *dims = [p.strip() for p in match["schema"].split(",")]
                out.append(Plotted(namespace, match["name"], frozenset(dims)))
            else:
                fields = [f for f in row if isinstance(f, str)]
                namespace, name, *pairs = fields
                dims = dict(zip(pairs[::2], pairs[1::2], strict=True))
                out.append(Plotted(namespace, name, frozenset(dims), dims.get("FunctionName")))
    return out


def test_every_metric_the_dashboard_plots_is_one_the_code_emits(monkeypatch, capsys):
    emitted = emitted_metrics(monkeypatch, capsys)
    # What the worker publishes: one namespace, one dimension (service), five counts.
    assert {m.namespace for m in emitted} == {"isched"}
    assert {m.dimensions for m in emitted} == {frozenset({"service"})}
    assert {m.name for m in emitted} == {"managed", "started", "stopped", "errors", "skipped"}

    shown = plotted(dashboard_body())
    own = [m for m in shown if m.namespace != "AWS/Lambda"]
    assert own and set(own) <= emitted, set(own) - emitted
    # ... and every metric the worker emits is on the dashboard.
    assert {m.name for m in own} == {m.name for m in emitted}
    lam = [m for m in shown if m.namespace == "AWS/Lambda"]
    assert {m.name for m in lam} <= LAMBDA_METRICS
    assert all(m.dimensions == {"FunctionName"} for m in lam)
    # Pass health: invocations, errors and duration of the orchestrator; throttles of both functions.
    by_function = {(m.function, m.name) for m in lam}
    for name in ("Invocations", "Errors", "Duration", "Throttles"):
        assert ("OrchestratorFunction", name) in by_function
        assert ("WorkerFunction", name) in by_function


def test_the_alarms_watch_metrics_the_code_emits_and_lambda_throttles(monkeypatch, capsys):
    emitted = emitted_metrics(monkeypatch, capsys)
    alarms = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    watched: dict[str, set[tuple[str, str, frozenset[str]]]] = {}
    for logical_id, props in alarms.items():
        stats = [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]
        if "MetricName" in props:
            stats.append(props)
        watched[logical_id] = {
            (s["Namespace"], s["MetricName"], frozenset(d["Name"] for d in s.get("Dimensions", []))) for s in stats
        }
        for namespace, name, dims in watched[logical_id]:
            if namespace == "AWS/Lambda":
                assert name in LAMBDA_METRICS and dims == {"FunctionName"}, logical_id
            elif namespace == "AWS/SQS":  # the worker's failed passes, kept in its dead-letter queue
                assert (name, dims) == ("ApproximateNumberOfMessagesVisible", {"QueueName"}), logical_id
                assert props["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["WorkerDeadLetterQueue", "QueueName"]}
            else:
                assert Plotted(namespace, name, dims) in emitted, (logical_id, name)
        assert props["AlarmActions"] == [{"Ref": "ErrorsTopic"}], logical_id

    def function_alarm(function: str, metric: str) -> bool:
        return any(
            p.get("MetricName") == metric and p["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]
            for p in alarms.values()
        )

    for function in ("OrchestratorFunction", "WorkerFunction"):
        assert function_alarm(function, "Errors") and function_alarm(function, "Throttles"), function
    names = {name for metrics in watched.values() for _, name, _ in metrics}
    assert {"errors", "skipped"} <= names  # workers' reported errors, skipped passes


def test_the_dashboard_is_valid_json_laid_out_on_the_grid_and_switchable():
    body = dashboard_body(OrchestratorTimeout="120", WorkerTimeout="300", ScheduleInterval="5")
    cells: set[tuple[int, int]] = set()
    for w in body["widgets"]:
        assert w["x"] >= 0 and w["x"] + w["width"] <= 24, w
        mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
        assert not cells & mine, f"widgets overlap: {w['properties']['title']}"
        cells |= mine
    timeouts = [
        w["properties"]["annotations"]["horizontal"][0]["value"]
        for w in body["widgets"]
        if "annotations" in w["properties"]
    ]
    assert timeouts == [120_000, 300_000]  # milliseconds, as Lambda's Duration
    dash = RESOURCES["PassDashboard"]
    assert dash["Condition"] == "DashboardEnabled"
    assert TEMPLATE["Conditions"]["DashboardEnabled"] == {"Fn::Equals": [{"Ref": "Dashboard"}, "true"]}


def test_failed_invocations_have_a_destination_the_function_may_publish_to():
    functions = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == {"OrchestratorFunction", "WorkerFunction", "ReportFunction"}
    # The worker is fed by its queue's event source mapping, not invoked asynchronously: no destination applies;
    # a pass that failed every delivery goes to the dead-letter queue (alarmed, see the alarms test).
    worker = functions.pop("WorkerFunction")["Properties"]
    assert "EventInvokeConfig" not in worker
    assert worker["Events"]["Queue"]["Properties"]["Queue"] == {"Fn::GetAtt": ["WorkerQueue", "Arn"]}
    redrive = RESOURCES["WorkerQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["WorkerDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] >= 2
    for logical_id, fn in functions.items():
        config = fn["Properties"]["EventInvokeConfig"]
        assert 0 <= config["MaximumRetryAttempts"] <= 2, logical_id
        failure = config["DestinationConfig"]["OnFailure"]
        assert failure["Type"] in ("SNS", "SQS"), logical_id
        # Lambda sends to the destination with the function's own role.
        role = RESOURCES[fn["Properties"]["Role"]["Fn::GetAtt"][0]]
        grants = [
            s
            for p in role["Properties"]["Policies"]
            for d in checker._documents(p["PolicyDocument"])
            for s in checker._statements(d)
        ]
        action = "sns:Publish" if failure["Type"] == "SNS" else "sqs:SendMessage"
        assert any(s["Action"] == action and s["Resource"] == failure["Destination"] for s in grants), logical_id
    assert functions["OrchestratorFunction"]["Properties"]["EventInvokeConfig"]["MaximumEventAgeInSeconds"] <= 3600


def test_worker_reserved_concurrency_is_a_parameter_with_zero_meaning_unreserved():
    param = TEMPLATE["Parameters"]["WorkerReservedConcurrency"]
    assert param["Default"] == 0 and param["MinValue"] == 0
    assert TEMPLATE["Conditions"]["HasWorkerReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "WorkerReservedConcurrency"}, "0"]}]
    }
    assert RESOURCES["WorkerFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasWorkerReservedConcurrency", {"Ref": "WorkerReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert "ReservedConcurrentExecutions" not in RESOURCES["OrchestratorFunction"]["Properties"]


@pytest.mark.parametrize(("level", "expected"), [("DEBUG", "10 10 10"), ("WARNING", "30 30 30")])
def test_log_level_reaches_the_functions_logger(level, expected):
    """LogLevel becomes POWERTOOLS_LOG_LEVEL of every function, and the handlers' loggers, made when Lambda imports
    them, take that level (the per-resource decision lines of resources left alone are DEBUG:
    tests/integration/test_log_level.py). A fresh interpreter, as a cold start: Powertools keeps the level of a
    logger already set up in this process."""
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert TEMPLATE["Parameters"]["LogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    # No LoggingConfig: Lambda's own log-level control (AWS_LAMBDA_LOG_LEVEL) would override POWERTOOLS_LOG_LEVEL.
    assert all("LoggingConfig" not in r.get("Properties", {}) for r in RESOURCES.values())
    code = (
        "from scheduler.handlers import orchestrator, report, worker; "
        "print(orchestrator.logger.log_level, worker.logger.log_level, report.logger.log_level)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("POWERTOOLS_", "AWS_LAMBDA_"))}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "POWERTOOLS_LOG_LEVEL": level, "PYTHONPATH": str(ROOT), "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.split("\n")[-2] == expected, out.stderr
