"""Helpers shared by the report integration tests: passes and reports through the CLI, rows by resource id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def passes(run: Callable[..., Any], *times: str, services: str = "ec2,asg,rds") -> None:
    """`isched run --at T` for each time; each must run without errors (warnings allowed)."""
    for at in times:
        r = run("run", "--at", at, "--services", services, "--json")
        assert r.code == 0, r.err
        assert not [e for e in r.json()["errors"] if not e["error"].startswith("warning")], r.out


def report(run: Callable[..., Any], *args: str) -> dict[str, Any]:
    """`isched report ARGS --json` without the Price List API; must succeed."""
    r = run("report", *args, "--no-pricing-api", "--json")
    assert r.code == 0, r.err
    body: dict[str, Any] = r.json()
    return body


def by_resource(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["resource"]: r for r in body["resources"]}
