"""The demo end to end (one simulated day): real passes on the embedded AWS, and a report that adds up."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from scheduler.demo import runner
from scheduler.savings.price_file import parse_prices


def _ledger_stopped_hours(ledger: list[dict], end: datetime) -> Decimal:
    """Stopped hours straight from the ledger: each scheduler stop until the next start of any kind."""
    by_resource: dict[tuple[str, str, str], list[dict]] = {}
    for e in ledger:
        by_resource.setdefault((e["account"], e["region"], e["resource"]), []).append(e)
    total = timedelta()
    for entries in by_resource.values():
        stopped_at: datetime | None = None
        for e in sorted(entries, key=lambda x: x["at"]):
            at = datetime.fromisoformat(e["at"])
            if e["action"] == "stop" and stopped_at is None:
                stopped_at = at
            elif e["action"] in ("start", "resize", "manual-start", "gone") and stopped_at is not None:
                total += at - stopped_at
                stopped_at = None
        if stopped_at is not None:
            total += end - stopped_at
    return Decimal(total.total_seconds()) / 3600


def test_one_day_demo_report_equals_the_ledger(tmp_path: Path) -> None:
    with runner.embedded_aws():
        run = runner.run_demo(days=1, seed=3)
        report = runner.demo_report(run, parse_prices(runner.demo_text("prices.csv"), "demo prices"))
    assert run.sim.passes_total == 289 and 0 < run.sim.passes_run < run.sim.passes_total
    assert runner.errors(run) == []
    actions = runner.actions_per_day(run)
    assert sum(actions[run.sim.start.date()].values()) > 20
    expected = _ledger_stopped_hours(run.ledger, run.sim.end)
    assert abs(Decimal(str(report["totals"]["stopped_hours"])) - expected) < Decimal("0.01")
    per_resource = sum(Decimal(str(r["estimated_savings"] or 0)) for r in report["resources"])
    assert Decimal(str(report["totals"]["estimated_savings"])) == per_resource
    assert report["totals"]["unpriced_resources"] == 0 and report["totals"]["estimated_savings"] > 0
    # Every resource of the fleet is in the report, and the batch workers ran exactly their window (22:00-03:00).
    assert len(report["resources"]) == len(run.fleet.resources)
    batch = [r for r in report["resources"] if r["schedule"] == "batch-nights"]
    assert batch and all(abs(r["running_hours"] - 2.0) < 0.01 for r in batch)  # Monday 22:00-24:00 only
    json.dumps(report)  # the report is plain JSON


def test_demo_command_writes_its_files(run, tmp_path: Path) -> None:
    r = run("demo", "--days", "1", "--out", str(tmp_path / "out"), "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert body["passes"]["total"] == 289 and body["errors"] == []
    assert (tmp_path / "out" / "report.html").read_text().lower().startswith("<!doctype html>")
    assert json.loads((tmp_path / "out" / "report.json").read_text())["totals"] == body["report"]["totals"]
    assert run("demo", "--days", "0").code == 2
