"""User and AWS text is data, never markup (SPEC §3): tag values, names and descriptions with rich markup, emoji
codes, backslashes, control characters, HTML and spreadsheet formulas, through every output of the CLI against a
moto server.

The consoles are made to behave like a colour terminal (see ``terminal``), so that markup a value managed to smuggle
in would show up as ANSI escapes, and wide enough that no value is wrapped.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import boto3
import pytest
from rich.color import ColorSystem

from scheduler.cli import output

pytestmark = pytest.mark.integration

# Hostile texts: rich markup (closing, styling, links), escapes and backslashes that defeat rich's own escape(),
# an unclosed tag, emoji codes, HTML and spreadsheet formulas.
MARKUP = [
    "[/]",
    "[red on red]x",
    "[link=https://evil.example]click[/link]",
    "\\[bold]",
    "x\\",
    "y\\\\\\",
    "[bold",
    "]",
    "[/bold]",
    "ok:warning:",
    "<script>alert(1)</script>",
    '=HYPERLINK("https://evil.example")',
]
# What a value's markup would have produced on a terminal: a background colour, a hyperlink, reverse video.
FOREIGN_ANSI = ("\x1b]8;", "41m", "\x1b[7m")

_REGIONS = itertools.cycle(["me-south-1", "af-south-1", "me-central-1", "il-central-1", "ap-south-2", "eu-south-2"])
MON = "2026-03-02"
SCHEDULES = """
periods:
  office: {begintime: "09:00", endtime: "17:00", weekdays: mon-fri}
schedules:
  office: {periods: [office]}
"""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def region(point_at: Callable[[str], str]) -> str:
    """A region of this module's own, so other tests' resources are never in the targets."""
    return point_at(next(_REGIONS))


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both consoles write ANSI colour as to a terminal, 300 columns wide."""
    for console in (output.console, output.err_console):
        monkeypatch.setattr(console, "_force_terminal", True)
        monkeypatch.setattr(console, "_color_system", ColorSystem.TRUECOLOR)
        monkeypatch.setattr(console, "width", 300)


@pytest.fixture
def configured(run: Callable[..., Any], namespace: str, region: str, write: Callable[..., str]) -> str:
    assert run("init").code == 0
    assert run("apply", "--file", write(SCHEDULES)).code == 0
    return region


def shows_literally(text: str, value: str) -> None:
    """``value`` is in ``text`` as typed, in one piece, and no escape sequence its markup stands for is."""
    assert value in text, f"{value!r} not shown literally in:\n{text}"
    for seq in FOREIGN_ANSI:
        assert seq not in text, f"{seq!r} in output:\n{text!r}"


def instances(region: str, tags: list[str]) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region)
    ids = []
    for value in tags:
        spec = [{"ResourceType": "instance", "Tags": [{"Key": "Schedule", "Value": value}]}]
        ids.append(
            ec2.run_instances(
                ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=spec
            )["Instances"][0]["InstanceId"]
        )
    ec2.stop_instances(InstanceIds=ids)
    return ids


# --- tag values: run and status ----------------------------------------------------------------------------------


def test_markup_in_tag_values_is_shown_literally_by_run_and_status(run, configured, terminal):
    region = configured
    office, *hostile = instances(region, ["office", *MARKUP])
    assert run("run", "--at", f"{MON}T08:55:00Z", "--services", "ec2").code == 1

    got = run("run", "--at", f"{MON}T09:00:00Z", "--services", "ec2")
    # It acted, then printed everything (no MarkupError after the start), and exits 1: the schedules are unknown.
    assert got.code == 1, got.err
    assert boto3.client("ec2", region_name=region).describe_instances(InstanceIds=[office])["Reservations"][0][
        "Instances"
    ][0]["State"]["Name"] in ("pending", "running")
    assert office in got.out and f"{len(MARKUP)} error(s)" in got.out
    for value in MARKUP:
        shows_literally(got.err, f"unknown schedule '{value}'")
    lines = [ANSI.sub("", line) for line in got.err.splitlines() if "unknown schedule" in line]
    assert len(lines) == len(hostile) and all(line.startswith("error: ") for line in lines)

    status = run("status", "--at", f"{MON}T10:00:00Z", "--services", "ec2")
    assert status.code == 0, status.err
    for value in MARKUP:
        shows_literally(status.out, value)


def test_run_json_exit_codes(run, configured):
    """0 without errors, 1 with one, the JSON printed either way (with an ``error`` summary when failing)."""
    region = configured
    (office,) = instances(region, ["office"])
    ok = run("run", "--at", f"{MON}T08:55:00Z", "--services", "ec2", "--json")
    assert ok.code == 0, ok.err
    assert ok.json()["errors"] == [] and "error" not in ok.json()
    # A pass already run at this instant is skipped: a notice, not an error.
    again = run("run", "--at", f"{MON}T08:55:00Z", "--services", "ec2", "--json")
    assert again.code == 0 and again.json()["errors"][0]["error"].startswith("skipped:")

    (ghost,) = instances(region, ["[/]"])
    bad = run("run", "--at", f"{MON}T09:00:00Z", "--services", "ec2", "--json")
    assert bad.code == 1
    body = bad.json()
    assert [a["resource"] for a in body["actions"]] == [office]
    assert [(e["resource"], e["error"]) for e in body["errors"]] == [
        (ghost, "unknown schedule '[/]' in tag Schedule (not in the configuration)")
    ]
    assert body["error"] == f"1 error(s) in the pass at {MON}T09:00:00Z"


def test_run_help_states_the_exit_codes(run):
    got = run("run", "--help")
    assert got.code == 0
    text = " ".join(got.out.split())
    assert "exit code is 1" in text and "Exit code 0 means the pass ran without errors" in text


def test_tag_and_untag_show_values_literally(run, configured, terminal):
    region = configured
    (iid,) = instances(region, ["[red on red]old"])
    got = run("tag", iid, "--schedule", "[link=https://evil.example]x[/link]", "--force")
    assert got.code == 0, got.err
    shows_literally(got.out, "(was [red on red]old)")
    shows_literally(got.out, "Schedule=[link=https://evil.example]x[/link]")
    got = run("untag", iid)
    assert got.code == 0, got.err
    shows_literally(got.out, "(was [link=https://evil.example]x[/link])")


# --- names and descriptions: period and schedule show/list -------------------------------------------------------

DESCRIPTIONS = [*MARKUP, "two\nlines [/]"]
# Names follow SPEC §1 (1-64 letters, digits, -, _ and .): odd but valid ones; markup, emoji codes and formula
# characters cannot be names (they are in the descriptions above).
NAMES = ["_x", "a-b_c.d", "9.9", "x--"]


def test_names_and_descriptions_are_shown_literally(run, configured, terminal):
    for i, text in enumerate(DESCRIPTIONS):
        got = run("period", "create", f"p{i}", "--begintime", "09:00", "--description", text)
        assert got.code == 0, got.err
        got = run("schedule", "create", f"s{i}", "--periods", f"p{i}", "--description", text)
        assert got.code == 0, got.err
    for name in NAMES:
        got = run("period", "create", name, "--begintime", "09:00", "--description", name)
        assert got.code == 0, got.err
        shows_literally(got.out, f"period '{name}'")
        got = run("schedule", "create", name, "--periods", name, "--description", "[/]")
        assert got.code == 0, got.err
        shows_literally(got.out, f"schedule '{name}'")

    for i, text in enumerate(DESCRIPTIONS):
        for kind in ("period", "schedule"):
            got = run(kind, "show", f"{kind[0]}{i}")
            assert got.code == 0, got.err
            for line in text.split("\n"):
                shows_literally(got.out, line)
    schedules = run("schedule", "list")
    assert schedules.code == 0, schedules.err
    for text in MARKUP:
        shows_literally(schedules.out, text)
    for name in NAMES:
        for kind in ("period", "schedule"):
            got = run(kind, "show", name)
            assert got.code == 0, got.err
            shows_literally(got.out, f"{kind} {name}")
        got = run("schedule", "preview", name, "--from", "2026-03-02", "--to", "2026-03-02")
        assert got.code == 0, got.err
        shows_literally(got.out, f"{name} (UTC)")
        got = run("schedule", "state", name, "--at", f"{MON}T10:00:00Z")
        assert got.code == 0, got.err
        shows_literally(got.out, f"{name} at ")
        shows_literally(run("period", "list").out, name)
        shows_literally(schedules.out, name)
    # Emoji codes stay codes.
    assert "⚠" not in schedules.out and "😄" not in schedules.out

    exported = run("export", "--json")
    assert exported.code == 0
    assert {s.get("description") for s in exported.json()["schedules"].values()} >= set(DESCRIPTIONS)


def test_errors_naming_user_text_are_literal(run, configured, terminal):
    got = run("schedule", "show", "[red on red]x")
    assert got.code == 2
    shows_literally(got.err, "'[red on red]x' is not a stored schedule")
    got = run("schedule", "create", "ok", "--periods", "office", "--timezone", "[link=https://evil.example]x")
    assert got.code == 2
    shows_literally(got.err, "[link=https://evil.example]x")


# --- the report ---------------------------------------------------------------------------------------------------

HOSTILE_ASG = '=HYPERLINK("https://evil.example")<script>alert(1)</script>[red on red]x'


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def hostile_asg(run: Callable[..., Any], configured: str) -> Iterator[str]:
    region = configured
    ec2 = boto3.client("ec2", region_name=region)
    lt = ec2.create_launch_template(
        LaunchTemplateName=f"lt-text-{region}",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )["LaunchTemplate"]["LaunchTemplateId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    asg = boto3.client("autoscaling", region_name=region)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=HOSTILE_ASG,
        LaunchTemplate={"LaunchTemplateId": lt},
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=[zone],
        Tags=[{"Key": "Schedule", "Value": "office", "PropagateAtLaunch": False}],
    )
    for t in (f"{MON}T16:55:00Z", f"{MON}T17:00:00Z"):
        got = run("run", "--at", t, "--services", "asg", "--json")
        assert got.code == 0, got.out
    yield region
    asg.delete_auto_scaling_group(AutoScalingGroupName=HOSTILE_ASG, ForceDelete=True)


def test_report_formats_keep_names_as_data(run, hostile_asg, write, tmp_path, terminal):
    region = hostile_asg
    prices = write(f"service,region,type,hourly_usd\nec2,{region},t3.micro,0.0104\n", "prices.csv")
    common = ("report", "--month", "2026-03", "--at", "2026-03-03T05:00:00Z", "--prices", prices)
    common += ("--no-cost-explorer", "--no-pricing-api")

    body = run(*common, "--json")
    assert body.code == 0, body.err
    (row,) = body.json()["resources"]
    assert row["resource"] == HOSTILE_ASG and row["stopped_hours"] == 12.0  # JSON is literal

    table = run(*common)
    assert table.code == 0, table.err
    shows_literally(table.out, HOSTILE_ASG)

    got = run(*common, "--format", "csv")
    assert got.code == 0, got.err
    (cells,) = list(csv.DictReader(io.StringIO(got.out)))
    assert cells["resource"] == "'" + HOSTILE_ASG
    assert cells["stopped_hours"] == "12.0" and float(cells["estimated_savings"]) == 0.12

    page = tmp_path / "report.html"
    got = run(*common, "--format", "html", "--out", str(page))
    assert got.code == 0, got.err
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "&lt;script&gt;" in html
    parsed = _Page()
    parsed.feed(html)
    assert "script" not in parsed.tags
    assert not [a for a in parsed.attrs if a[0].startswith("on") or "javascript:" in (a[1] or "")]
    assert any(HOSTILE_ASG in text for text in parsed.text)
