"""The ``isched:override`` tag end to end against a moto server (SPEC §2 rule 6, §3 `isched override`): set by the
CLI (`--for`, `--until`) and by hand (CreateTags, as in the console), kept through the schedule's transitions,
expiry and removal bringing the schedule's state back at once, the expired tag removed, a malformed value, the
status output, hostile CLI input, and the report's hours lost to overrides rebuilt from the passes' clock times.

2026-03-02 and 2026-11-02 are Mondays; the office schedule runs Mon-Fri 09:00-17:00 UTC. Passes at those past
instants are real-time passes (not simulations), so they record observations and remove expired tags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from scheduler.cli import output
from scheduler.engine import OVERRIDE_TAG

from .report_helpers import by_resource
from .test_run import _REGIONS, Fleet, actions, passes

SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
  office-enforced: {periods: [office], enforced: true}
"""
MON, TUE = "2026-03-02", "2026-03-03"


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    """A region of this test's own (from test_run's cycle, so that the two modules' tests keep apart)."""
    return point_at(next(_REGIONS))


@pytest.fixture
def fleet(deploy: Callable[[str, str], str], region: str) -> Iterator[Fleet]:
    deploy(region, SCHEDULES)
    f = Fleet(region)
    yield f
    f.cleanup()


def tag(fleet: Fleet, iid: str, value: str) -> None:
    """As a person in the console would."""
    fleet.ec2.create_tags(Resources=[iid], Tags=[{"Key": OVERRIDE_TAG, "Value": value}])


def untag(fleet: Fleet, iid: str) -> None:
    fleet.ec2.delete_tags(Resources=[iid], Tags=[{"Key": OVERRIDE_TAG}])


def reasons(body: dict[str, Any]) -> dict[str, str]:
    return {a["resource"]: a["reason"] for a in body["actions"]}


def test_raw_tag_keeps_running_through_the_stop_and_expiry_returns_to_schedule(run, fleet):
    a = fleet.instance("office", running=False)
    b = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    tag(fleet, a, f"running@{MON}T21:00:00Z")
    (stop,) = passes(run, f"{MON}T17:00:00Z")
    assert actions(stop) == {b: "stop"}  # a is kept running through its schedule's stop
    assert fleet.state(a) == "running"
    fleet.stop(a)  # a manual stop of an overridden-running resource is undone: it is kept there
    (kept,) = passes(run, f"{MON}T18:00:00Z")
    assert actions(kept) == {a: "start"} and "override running until 2026-03-02T21:00:00Z" in reasons(kept)[a]
    (before,) = passes(run, f"{MON}T20:55:00Z")
    assert actions(before) == {} and fleet.tags(a)[OVERRIDE_TAG] == f"running@{MON}T21:00:00Z"
    # Expiry: the schedule's state at that moment (stopped), without waiting for a transition; the tag goes.
    (expiry,) = passes(run, f"{MON}T21:00:00Z")
    assert actions(expiry) == {a: "stop"}
    assert "expired" in reasons(expiry)[a] and "schedule says stopped" in reasons(expiry)[a]
    assert fleet.state(a) == "stopped" and OVERRIDE_TAG not in fleet.tags(a)
    (after,) = passes(run, f"{MON}T21:05:00Z")
    assert actions(after) == {}
    (start,) = passes(run, f"{TUE}T09:00:00Z")
    assert actions(start) == {a: "start", b: "start"}


def test_expiry_between_passes_acts_at_the_next_pass(run, fleet):
    a = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    tag(fleet, a, f"stopped@{MON}T12:02:00Z")
    (stop,) = passes(run, f"{MON}T12:00:00Z")
    assert actions(stop) == {a: "stop"}
    (back,) = passes(run, f"{MON}T12:05:00Z")  # expired at 12:02: the schedule says running now
    assert actions(back) == {a: "start"} and fleet.state(a) == "running"
    assert OVERRIDE_TAG not in fleet.tags(a)


def test_removed_tag_returns_to_schedule_state_at_once(run, fleet):
    a = fleet.instance("office-enforced", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    tag(fleet, a, "stopped")  # indefinitely, over an enforced schedule
    (stop,) = passes(run, f"{MON}T10:00:00Z")
    assert actions(stop) == {a: "stop"} and fleet.state(a) == "stopped"
    (quiet,) = passes(run, f"{MON}T10:05:00Z")
    assert actions(quiet) == {}  # enforced does not revert an override
    r = run("override", "clear", a, "--json")
    assert r.code == 0, r.err
    assert r.json()["results"][0]["previous"] == "stopped" and OVERRIDE_TAG not in fleet.tags(a)
    (back,) = passes(run, f"{MON}T10:10:00Z")
    assert actions(back) == {a: "start"} and "removed" in reasons(back)[a]


def test_malformed_value_is_an_error_for_that_resource_which_follows_its_schedule(run, fleet):
    a = fleet.instance("office", running=False)
    b = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    tag(fleet, a, "runing@tonight")
    (body,) = passes(run, f"{MON}T17:00:00Z", code=1)
    assert actions(body) == {a: "stop", b: "stop"}
    (err,) = body["errors"]
    assert err["resource"] == a and "'runing@tonight'" in err["error"] and OVERRIDE_TAG in err["error"]
    assert fleet.tags(a)[OVERRIDE_TAG] == "runing@tonight"  # not ours to remove: the person fixes it


def test_untag_failure_is_an_error_retried_next_pass(run, fleet, monkeypatch):
    a = fleet.instance("office", running=False)
    passes(run, f"{MON}T08:55:00Z", f"{MON}T09:00:00Z")
    tag(fleet, a, f"running@{MON}T17:30:00Z")
    passes(run, f"{MON}T17:00:00Z")
    real = botocore.client.BaseClient._make_api_call

    def fake(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "DeleteTags":
            raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "injected"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", fake)
    (body,) = passes(run, f"{MON}T17:30:00Z", code=1)
    assert actions(body) == {a: "stop"} and fleet.state(a) == "stopped"
    assert [e["resource"] for e in body["errors"]] == [a] and "injected" in body["errors"][0]["error"]
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)
    (retry,) = passes(run, f"{MON}T17:35:00Z")
    assert actions(retry) == {} and OVERRIDE_TAG not in fleet.tags(a)


def test_asg_override_uses_the_saved_capacity(run, fleet, region):
    name = f"grp-{fleet.region}"
    fleet.ec2.create_launch_template(
        LaunchTemplateName=name, LaunchTemplateData={"ImageId": fleet.image, "InstanceType": "t3.micro"}
    )
    fleet.asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=2,
        AvailabilityZones=[f"{region}a"],
        LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
        Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": "Schedule", "Value": "office",
               "PropagateAtLaunch": False}],
    )  # fmt: skip

    def sizes() -> tuple[int, int, int]:
        g = fleet.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return g["MinSize"], g["MaxSize"], g["DesiredCapacity"]

    r = run("override", name, "--state", "stopped", "--until", "2999-01-01T00:00:00Z", "--json")
    assert r.code == 0, r.err
    assert r.json()["results"][0]["kind"] == "asg"
    for at in (f"{MON}T09:55:00Z", f"{MON}T10:00:00Z"):
        body = run("run", "--at", at, "--services", "asg", "--json")
        assert body.code == 0, body.out
    assert sizes() == (0, 0, 0)
    fleet.asg.delete_tags(Tags=[{"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": OVERRIDE_TAG}])
    body = run("run", "--at", f"{MON}T10:05:00Z", "--services", "asg", "--json")
    assert body.code == 0 and actions(body.json()) == {name: "start"}
    assert sizes() == (1, 3, 2)  # what the override's stop saved


def _value(fleet: Fleet, iid: str) -> str:
    return fleet.tags(iid)[OVERRIDE_TAG]


def test_cli_for_and_until_then_status_and_clear(run, fleet, monkeypatch):
    a = fleet.instance("office", running=False)
    b = fleet.instance("office")
    c = fleet.instance("office")
    before = datetime.now(UTC)
    r = run("override", a, "--state", "running", "--for", "3h", "--json")
    assert r.code == 0, r.err
    body = r.json()
    assert body["tag_key"] == OVERRIDE_TAG and body["state"] == "running"
    until = datetime.fromisoformat(body["until"].replace("Z", "+00:00"))
    assert before + timedelta(hours=3) <= until <= datetime.now(UTC) + timedelta(hours=3, seconds=1)
    assert _value(fleet, a) == f"running@{body['until']}"
    end = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    r = run("override", b, "--state", "stopped", "--until", end.isoformat())
    assert r.code == 0, r.err
    assert "stopped until" in r.out and _value(fleet, b) == f"stopped@{end.isoformat().replace('+00:00', 'Z')}"
    tag(fleet, c, "sideways")
    # A pass now (real time): a started, b stopped, c reported and left to its schedule.
    now = run("run", "--services", "ec2", "--json")
    assert now.code == 1
    assert {k: v for k, v in actions(now.json()).items() if k in (a, b)} == {a: "start", b: "stop"}
    assert fleet.state(a) == "running" and fleet.state(b) == "stopped"
    status = run("status", "--services", "ec2", "--json")
    rows = {r["resource"]: r for r in status.json()["resources"]}
    assert rows[a]["override"] == f"running@{body['until']}" and rows[a]["override_state"] == "running"
    assert rows[a]["override_until"] == body["until"] and rows[a]["override_expired"] is False
    assert rows[b]["override_state"] == "stopped" and rows[b]["override_until"] == end.isoformat()[:19] + "Z"
    assert "'sideways'" in rows[c]["override_error"] and rows[c]["override_state"] is None
    monkeypatch.setattr(output.console, "width", 160)  # one line per row, whatever the terminal
    human = run("status", "--services", "ec2")
    assert f"running (override until {body['until'][5:10]} {body['until'][11:16]})" in human.out
    assert "stopped (override until" in human.out and "(override tag malformed: ignored)" in human.out
    cleared = run("override", "clear", a, b, "--json")
    assert cleared.code == 0, cleared.err
    previous = [x["previous"] for x in cleared.json()["results"]]
    assert previous == [f"running@{body['until']}", f"stopped@{end.isoformat()[:19]}Z"]
    assert OVERRIDE_TAG not in fleet.tags(a) and OVERRIDE_TAG not in fleet.tags(b)


@pytest.mark.parametrize(
    "args",
    [
        ("--state", "running", "--for", "0h"),
        ("--state", "running", "--for", "-3h"),
        ("--state", "running", "--for", "3x"),
        ("--state", "running", "--for", "9" * 40 + "d"),
        ("--state", "running", "--for", "367d"),
        ("--state", "running", "--until", "2020-01-01T00:00:00Z"),
        ("--state", "running", "--until", "next tuesday"),
        ("--state", "running", "--until", "2030-01-01T00:00:00"),
        ("--state", "running", "--for", "3h", "--until", "2999-01-01T00:00:00Z"),
        ("--state", "any"),
        ("--state", "[red]x"),
        (),
    ],
)
def test_hostile_input_exits_2_and_writes_nothing(run, fleet, args):
    a = fleet.instance("office")
    r = run("override", a, *args, "--json")
    assert r.code == 2, r.out
    body = r.json()
    assert body["error"] and body["issues"][0]["path"] in ("--for", "--until", "--state")
    shown = next((x for x in args if x.startswith(("-3", "0h", "3x", "9", "367", "2020", "next", "2030", "any", "["))),
                 None)  # fmt: skip
    if shown is not None and len(shown) < 40:
        assert shown in body["error"]
    assert OVERRIDE_TAG not in fleet.tags(a)


def test_clear_refuses_state_options(run, fleet):
    a = fleet.instance("office")
    tag(fleet, a, "running")
    r = run("override", "clear", a, "--for", "3h", "--json")
    assert r.code == 2 and "--for" in r.json()["error"]
    assert fleet.tags(a)[OVERRIDE_TAG] == "running"


# --- the report -----------------------------------------------------------------------------------------------

NOV_MON, NOV_TUE = "2026-11-02", "2026-11-03"


def _h(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)) / timedelta(hours=1)


def test_report_hours_lost_to_overrides(run, fleet, write):
    a = fleet.instance("office", running=False)  # kept running 17:00-21:00 by running@21:00
    b = fleet.instance("office", running=False)  # started at 18:00 by an indefinite override, removed Tue 08:30
    c = fleet.instance("office", running=False)  # stopped by an override in office hours: no hours lost
    prices = write(f"service,region,type,hourly_usd\nec2,{fleet.region},t3.micro,0.0104\n", "prices.csv")
    passes(run, f"{NOV_MON}T08:55:00Z", f"{NOV_MON}T09:00:00Z")
    tag(fleet, a, f"running@{NOV_MON}T21:00:00Z")
    tag(fleet, c, f"stopped@{NOV_MON}T13:00:00Z")
    passes(run, f"{NOV_MON}T12:00:00Z", f"{NOV_MON}T13:00:00Z", f"{NOV_MON}T17:00:00Z")
    tag(fleet, b, "running")
    passes(run, f"{NOV_MON}T18:00:00Z", f"{NOV_MON}T21:00:00Z", f"{NOV_TUE}T08:00:00Z")
    untag(fleet, b)
    (body,) = passes(run, f"{NOV_TUE}T08:30:00Z")
    assert actions(body) == {b: "stop"}
    passes(run, f"{NOV_TUE}T09:00:00Z", f"{NOV_TUE}T17:00:00Z")
    r = run("report", "--month", "2026-11", "--prices", prices, "--no-pricing-api", "--json")
    assert r.code == 0, r.err
    report = r.json()
    rows = by_resource(report)
    lost_a = _h(f"{NOV_MON}T17:00:00", f"{NOV_MON}T21:00:00")
    lost_b = _h(f"{NOV_MON}T18:00:00", f"{NOV_TUE}T08:30:00")
    assert rows[a]["override_hours"] == pytest.approx(lost_a)
    assert rows[b]["override_hours"] == pytest.approx(lost_b)
    assert rows[c]["override_hours"] == 0
    # c was stopped by the override from 12:00 to 13:00 (the scheduler's stop, counted as stopped hours).
    assert rows[c]["stopped_hours"] >= 1.0
    office = next(g for g in report["by_schedule"] if g["schedule"] == "office")
    assert office["override_hours"] == pytest.approx(lost_a + lost_b)
    assert report["totals"]["override_hours"] == pytest.approx(lost_a + lost_b)
    table = run("report", "--month", "2026-11", "--prices", prices, "--no-pricing-api")
    line = next(x for x in table.out.splitlines() if "hours lost to overrides" in x)
    assert line.split()[-1] == f"{lost_a + lost_b:g}"  # 18.5
    csv = run("report", "--month", "2026-11", "--prices", prices, "--no-pricing-api", "--format", "csv")
    assert "override_hours" in csv.out.splitlines()[0]
