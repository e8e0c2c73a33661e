"""The calendar page in a real browser: headless Chromium loads what ``isched calendar`` wrote.

The page made by the command (from a schedule file with a Berlin office, Berlin nights, a New York office and an
override, one description hostile) is loaded twice:

* as it is, with Chromium's console log and network log on: nothing is logged (no script error, no blocked
  request), nothing but the file itself is fetched, and the page's own script ran under its Content-Security-
  Policy (it removes the ticks' ``title`` attributes, so the dumped DOM shows it did);
* as a copy without the policy (so the escaping alone keeps hostile text inert) and with a probe script that
  records errors from the first moment, then reads every row's ``data-`` attributes and the boxes of its bar and
  segments, focuses a transition tick and reads the tooltip, and writes what it found into the DOM for
  ``--dump-dom``.

The rows are compared with hours rebuilt from wall-clock arithmetic (09:00-17:00 Berlin is 8 hours at 08:00 UTC
before the spring change and 07:00 UTC after it; 22:00-06:00 is 7 hours on the 23-hour day) and with the engine.
A page rendered with a hostile schedule name is checked the same way. A screenshot is written to a temporary
directory (``ISCHED_SCREENSHOTS`` keeps it). Skipped, saying why, without Chromium.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.calendar import build_calendar, render_calendar
from scheduler.engine import Evaluator, iso_z, local_day_bounds, parse_text
from tests.integration.test_report_browser import chromium, requires_chromium, shots  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> & 'q' </textarea><b>bold</b>"
FILE = f"""
periods:
  office: {{begintime: "09:00", endtime: "17:00", weekdays: mon-fri}}
  nights: {{begintime: "22:00", endtime: "06:00"}}
schedules:
  office-berlin:
    timezone: Europe/Berlin
    periods: [office]
    holidays: ["2026-03-19"]
    description: {json.dumps(HOSTILE)}
  nights-berlin: {{timezone: Europe/Berlin, periods: [nights]}}
  office-new-york: {{timezone: America/New_York, periods: [office]}}
  always-off: {{override_status: stopped}}
"""
BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
MONTH = [date(2026, 3, 1) + timedelta(days=i) for i in range(31)]
# Requests Chromium makes on its own (clock and component updates, account check), not the page's.
BROWSER_OWN = (
    "http://clients2.google.com/time/",
    "https://clients2.google.com/time/",
    "http://update.googleapis.com/",
    "https://update.googleapis.com/",
    "https://accounts.google.com/ListAccounts",
)

FIRST = """<script>
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || e.type)); }, true);
(function () { var orig = console.error;
  console.error = function () {
    window.__errors.push(Array.prototype.join.call(arguments, " "));
    orig.apply(console, arguments);
  };
})();
</script>"""

PROBE = """<script>
(function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    return {l: r.left, r: r.right, w: r.width, t: r.top, b: r.bottom};
  }
  var rows = Array.prototype.map.call(document.querySelectorAll("li.run"), function (li) {
    var bar = li.querySelector(".bar");
    return {data: Object.assign({}, li.dataset), classes: li.className, text: li.innerText, bar: box(bar),
            segs: Array.prototype.map.call(bar.querySelectorAll(".seg"), function (s) {
              return {start: s.dataset.start, end: s.dataset.end, box: box(s)}; }),
            ticks: Array.prototype.map.call(bar.querySelectorAll("button.tr"), function (b) {
              return {at: b.dataset.at, action: b.dataset.action, label: b.getAttribute("aria-label"),
                      tab: b.tabIndex, box: box(b)}; })};
  });
  var tick = document.querySelector("li.run button.tr");
  var focus = null;
  if (tick) {
    tick.focus();
    var tip = document.getElementById("tip");
    focus = {focused: document.activeElement === tick, tip_hidden: tip.hidden, tip: tip.textContent};
  }
  var out = {rows: rows, focus: focus, errors: window.__errors, pwned: window.pwned === undefined ? null : window.pwned,
             images: document.images.length, scripts: document.scripts.length,
             bolds: document.querySelectorAll("b").length,
             resources: performance.getEntriesByType("resource").map(function (e) { return e.name; }),
             legend: Array.prototype.map.call(document.querySelectorAll("table.legend tbody tr"), function (tr) {
               return {schedule: tr.dataset.schedule, text: tr.cells[1].innerText}; }),
             width: window.innerWidth, scroll_width: document.documentElement.scrollWidth};
  var pre = document.createElement("pre");
  pre.id = "isched-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


def write_page(where: Path) -> tuple[Path, dict[str, Any]]:
    """Runs ``isched calendar`` as a user would and returns the page's path and the command's JSON."""
    schedules = where / "schedules.yaml"
    schedules.write_text(FILE, encoding="utf-8")
    page = where / "calendar.html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler.cli.main",
            "calendar",
            "--month",
            "2026-03",
            "--out",
            str(page),
            "--file",
            str(schedules),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return page, json.loads(done.stdout)


def probe(page_text: str, name: str, where: Path) -> dict[str, Any]:
    """Loads a copy of the page without its CSP (escaping alone must hold) with the probe, and returns its findings."""
    copy = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_text, count=1)
    assert copy != page_text
    copy = copy.replace("<head>", "<head>" + FIRST, 1).replace("</body>", PROBE + "</body>")
    path = where / f"{name}.probe.html"
    path.write_text(copy, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        done = chromium("--window-size=1280,2000", "--dump-dom", path.as_uri(), profile=Path(profile))
    found = re.search(r'<pre id="isched-probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the probe found nothing: {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return result


def berlin_office(day: date) -> list[str]:
    if day.weekday() >= 5 or day == date(2026, 3, 19):
        return []
    s = datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN)
    e = datetime(day.year, day.month, day.day, 17, tzinfo=BERLIN)
    return [f"{iso_z(s)}/{iso_z(e)}"]


@pytest.fixture(scope="module")
def made(shots):  # noqa: F811 (the fixture imported above)
    page, body = write_page(shots)
    return page, body, page.read_text(encoding="utf-8")


@requires_chromium
def test_page_loads_clean_without_requests(made, shots):  # noqa: F811
    page, _, _ = made
    netlog = shots / "calendar.netlog.json"
    with tempfile.TemporaryDirectory() as profile:
        done = chromium(
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={netlog}",
            "--window-size=1280,2000",
            "--dump-dom",
            page.as_uri(),
            profile=Path(profile),
        )
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    assert "<h1>isched calendar · March 2026</h1>" in done.stdout
    # The page's own script ran under its policy: it takes the native tooltips off the ticks.
    assert 'class="tr start"' in done.stdout and not re.search(r'<button[^>]*class="tr[^>]*title=', done.stdout)
    urls = set(re.findall(r'"url":"([^"]+)"', netlog.read_text(encoding="utf-8")))
    page_urls = {u for u in urls if not u.startswith(BROWSER_OWN)}
    assert page_urls <= {page.as_uri()}, page_urls


@requires_chromium
def test_rows_match_the_engine_and_wall_clock_arithmetic(made, shots):  # noqa: F811
    _, body, text = made
    found = probe(text, "calendar", shots)
    assert found["errors"] == [] and found["resources"] == [] and found["images"] == 0
    assert found["pwned"] is None and found["bolds"] == sum(1 for _ in re.finditer("<b>", text))
    assert found["scroll_width"] <= found["width"], "the page is wider than the window"
    config = parse_text(FILE)
    rows: dict[tuple[str, str], dict[str, Any]] = {(r["data"]["schedule"], r["data"]["day"]): r for r in found["rows"]}
    assert {s for s, _ in rows} == set(config.schedules) == {s["schedule"] for s in body["schedules"]}
    assert len(rows) == len(found["rows"]) == 4 * 31

    # Every row against the engine itself.
    for name in config.schedules:
        ev = Evaluator.from_config(config, name)
        for day in MONTH:
            d0, d1 = local_day_bounds(day, day, ev.tz)
            want = [f"{iso_z(s)}/{iso_z(e)}" for s, e in ev.running(d0, d1)]
            row = rows[(name, day.isoformat())]
            assert row["data"]["running"].split() == want, (name, day)
            assert [(s["start"], s["end"]) for s in row["segs"]] == [tuple(w.split("/")) for w in want]
            assert {t["at"] for t in row["ticks"]} == {iso_z(t.at) for t in ev.transitions(d0, d1)}

    # The Berlin office rebuilt by hand: 8 h on working days at 08:00 UTC, then 07:00 UTC after the change.
    for day in MONTH:
        row = rows[("office-berlin", day.isoformat())]
        assert row["data"]["running"].split() == berlin_office(day), day
        assert float(row["data"]["hours"]) == (8.0 if berlin_office(day) else 0.0)
    assert rows[("office-berlin", "2026-03-27")]["data"]["running"].startswith("2026-03-27T08:00:00Z")
    assert rows[("office-berlin", "2026-03-30")]["data"]["running"].startswith("2026-03-30T07:00:00Z")
    # New York changed three weeks earlier: 09:00 is 14:00 UTC on the 6th, 13:00 UTC on the 9th.
    assert rows[("office-new-york", "2026-03-06")]["data"]["running"].startswith("2026-03-06T14:00:00Z")
    assert rows[("office-new-york", "2026-03-09")]["data"]["running"].startswith("2026-03-09T13:00:00Z")
    # Nights on the 23-hour day: 00:00-06:00 is 5 hours, 22:00-24:00 is 2.
    spring = rows[("nights-berlin", "2026-03-29")]["data"]
    assert (spring["hours"], spring["dayHours"], spring["dst"]) == ("7", "23", "true")
    assert all(rows[("nights-berlin", d.isoformat())]["data"]["hours"] == "8" for d in MONTH if d.day != 29)

    # Segments are drawn where their instants fall in the bar (to scale, 23 hours on the change day).
    for row in found["rows"]:
        start = datetime.fromisoformat(row["data"]["dayStart"])
        length = (datetime.fromisoformat(row["data"]["dayEnd"]) - start).total_seconds()
        bar = row["bar"]
        for seg in row["segs"]:
            s = (datetime.fromisoformat(seg["start"]) - start).total_seconds() / length
            e = (datetime.fromisoformat(seg["end"]) - start).total_seconds() / length
            assert abs(seg["box"]["l"] - (bar["l"] + 1 + s * (bar["w"] - 2))) <= 1.5, row["data"]
            assert abs(seg["box"]["r"] - (bar["l"] + 1 + e * (bar["w"] - 2))) <= 1.5, row["data"]
        for tick in row["ticks"]:
            assert tick["tab"] == 0 and tick["label"].startswith(row["data"]["schedule"] + ": " + tick["action"])

    # The holiday and the clock changes are marked, in text as well as in the data.
    holiday = rows[("office-berlin", "2026-03-19")]
    assert "holiday" in holiday["classes"].split() and "holiday" in holiday["text"]
    assert [d for (s, d), r in rows.items() if r["data"]["holiday"] == "true"] == ["2026-03-19"]
    for name, day in (("office-berlin", "29"), ("nights-berlin", "29"), ("office-new-york", "08")):
        r = rows[(name, f"2026-03-{day}")]
        assert r["data"]["dst"] == "true" and "DST 23 h" in r["text"], name
    assert sum(r["data"]["dst"] == "true" for r in found["rows"]) == 3

    # The hostile description is shown literally, and focusing a tick shows its detail.
    legend = {r["schedule"]: r["text"] for r in found["legend"]}
    assert HOSTILE in legend["office-berlin"]
    focus = found["focus"]
    assert focus["focused"] and not focus["tip_hidden"] and re.search(r": (start|stop) at 2026-03-\d\d ", focus["tip"])
    hours = {s["schedule"]: s["running_hours"] for s in body["schedules"]}
    assert hours["office-berlin"] == 8 * 21 and hours["always-off"] == 0


@requires_chromium
def test_hostile_schedule_name_is_shown_literally(shots):  # noqa: F811
    cal = build_calendar(parse_text(FILE), "2026-03", ["office-berlin"])
    hostile = replace(cal, schedules=tuple(replace(s, name=HOSTILE) for s in cal.schedules))
    found = probe(render_calendar(hostile), "hostile", shots)
    assert found["errors"] == [] and found["pwned"] is None and found["images"] == 0 and found["resources"] == []
    assert {r["data"]["schedule"] for r in found["rows"]} == {HOSTILE}
    assert HOSTILE in found["legend"][0]["text"] and found["legend"][0]["schedule"] == HOSTILE
    assert all(t["label"].startswith(HOSTILE + ": ") for r in found["rows"] for t in r["ticks"])


@requires_chromium
def test_screenshot(made, shots):  # noqa: F811
    page, _, _ = made
    png = shots / "calendar.png"
    with tempfile.TemporaryDirectory() as profile:
        done = chromium("--window-size=1280,2400", f"--screenshot={png}", page.as_uri(), profile=Path(profile))
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG", done.stderr[-2000:]
    assert png.stat().st_size > 20_000  # a drawn page, not a blank one
