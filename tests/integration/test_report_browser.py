"""The HTML report in a real browser: headless Chromium at 1280 px, measured, and screenshotted.

For each report (the demo's, a partial month counted on its 3rd day, a quarter with a trend and tag groups, and one
with the longest names a schedule may have) the page is loaded twice: once with a small measuring script added to a
copy of it (the report itself has no script), dumped with ``--dump-dom``, and once as it is, for screenshots at
1280×2400 (the page) and 1280×800 (the first screen). The script measures, with getBoundingClientRect:

* every pair of chart labels (SVG ``text``), and every label against every bar: none overlap;
* every label lies inside its chart;
* the daily chart's bars span its axis (no empty three-quarter chart for a partial month): the last bar ends in
  the last day's slot, and a report counted on the 3rd has three day slots;
* the headline cards and the totals strip end above the fold (800 px), the page is no wider than the window, and
  chart text is drawn at its CSS size (the charts are not scaled down).

Screenshots go to a temporary directory (or ``ISCHED_SCREENSHOTS`` if set), so a person can look at them. The tests
skip, saying why, when no Chromium is installed (``apt-get install chromium``; CI installs it in .ci/run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scheduler.savings.page import render_html
from tests.unit.test_render import sample_report

pytestmark = pytest.mark.integration

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium): the HTML report is checked in a real browser",
)
WIDTH, FOLD = 1280, 800

# Measures the page once it is laid out and writes the result into the DOM, where --dump-dom finds it.
MEASURE = """
<script>
(function () {
  function box(el) { var r = el.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom, w: r.width, h: r.height}; }
  function hit(a, b) {
    return Math.min(a.r, b.r) - Math.max(a.l, b.l) > 0.5 && Math.min(a.b, b.b) - Math.max(a.t, b.t) > 0.5; }
  var out = {width: window.innerWidth, height: window.innerHeight,
             scroll_width: document.documentElement.scrollWidth, charts: [], fold: {}};
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var frame = box(svg);
    var texts = Array.prototype.map.call(svg.querySelectorAll("text"), function (t) {
      return {text: t.textContent, cls: t.getAttribute("class"), box: box(t),
              size: parseFloat(getComputedStyle(t).fontSize)}; });
    var bars = Array.prototype.map.call(svg.querySelectorAll("rect.bar, rect.hbar"), box);
    var axis = svg.querySelector("line.axis");
    var overlaps = [], outside = [];
    for (var i = 0; i < texts.length; i++) {
      var a = texts[i];
      if (a.box.l < frame.l - 0.5 || a.box.r > frame.r + 0.5 || a.box.t < frame.t - 0.5 || a.box.b > frame.b + 0.5)
        outside.push(a.text);
      for (var j = i + 1; j < texts.length; j++) if (hit(a.box, texts[j].box)) overlaps.push([a.text, texts[j].text]);
      for (var k = 0; k < bars.length; k++) if (hit(a.box, bars[k])) overlaps.push([a.text, "bar " + k]);
    }
    out.charts.push({label: svg.getAttribute("aria-label"), frame: frame, scale: frame.w / svg.viewBox.baseVal.width,
                     texts: texts, bars: bars.length, overlaps: overlaps, outside: outside,
                     bars_left: Math.min.apply(null, bars.map(function (b) { return b.l; })),
                     bars_right: Math.max.apply(null, bars.map(function (b) { return b.r; })),
                     axis: axis ? box(axis) : null});
  });
  [".cards", ".stats", ".notes", "h1"].forEach(function (sel) {
    var el = document.querySelector(sel); if (el) out.fold[sel] = box(el); });
  var pre = document.createElement("pre");
  pre.id = "isched-metrics";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def shots() -> Iterator[Path]:
    keep = os.environ.get("ISCHED_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix="isched-report-shots-") as d:
        yield Path(d)


def measure(page: str, name: str, where: Path) -> dict[str, Any]:
    """Loads the page (with the measuring script) at 1280×800 and returns what the script found."""
    probe = where / f"{name}.measure.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        done = chromium(f"--window-size={WIDTH},{FOLD}", "--dump-dom", probe.as_uri(), profile=Path(profile))
    found = re.search(r'<pre id="isched-metrics">(.*?)</pre>', done.stdout, re.S)
    assert found, f"no measurements in the dumped page: {done.stderr[-2000:]}"
    import html

    metrics: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return metrics


def screenshot(page: str, name: str, where: Path) -> list[Path]:
    """The page at 1280×2400 and its first screen at 1280×800, as PNG files in ``where``."""
    source = where / f"{name}.html"
    source.write_text(page, encoding="utf-8")
    made = []
    for suffix, height in (("page", 2400), ("fold", FOLD)):
        png = where / f"{name}-{suffix}.png"
        with tempfile.TemporaryDirectory() as profile:
            done = chromium(
                f"--window-size={WIDTH},{height}", f"--screenshot={png}", source.as_uri(), profile=Path(profile)
            )
        assert png.exists() and png.read_bytes()[:4] == b"\x89PNG", done.stderr[-2000:]
        made.append(png)
    return made


def check_layout(metrics: dict[str, Any]) -> None:
    # The layout width is the window's; heights are measured from the top of the page, whatever the window's
    # height (headless Chromium's --dump-dom window keeps room for a toolbar it does not draw).
    assert metrics["width"] == WIDTH
    assert metrics["scroll_width"] <= WIDTH, "the page is wider than the window"
    for selector in (".cards", ".stats"):
        assert metrics["fold"][selector]["b"] <= FOLD, f"{selector} ends below the first screen"
    assert metrics["charts"], "no chart"
    for chart in metrics["charts"]:
        assert chart["overlaps"] == [], (chart["label"], chart["overlaps"])
        assert chart["outside"] == [], (chart["label"], chart["outside"])
        assert chart["scale"] >= 0.99, (chart["label"], chart["scale"])  # drawn at its CSS size
        assert all(t["size"] >= 12 for t in chart["texts"]), chart["label"]


def daily(metrics: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in metrics["charts"] if c["label"] == "Estimated savings per day")


def day_labels(chart: dict[str, Any]) -> list[str]:
    return [t["text"] for t in chart["texts"] if re.fullmatch(r"\d{1,2}|[A-Z][a-z]{2}( \d{4})?", t["text"])]


def check_bars_span_the_axis(chart: dict[str, Any], days: int) -> None:
    """The bars fill the plot: the first bar starts in the first day's slot and the last ends in the last's."""
    axis = chart["axis"]
    slot = axis["w"] / days
    assert chart["bars"] > 0
    assert chart["bars_left"] - axis["l"] <= slot, "the first day's bar is not at the left of the axis"
    assert axis["r"] - chart["bars_right"] <= slot, "the chart is mostly empty on the right"


@pytest.fixture(scope="module")
def demo_report() -> dict[str, Any]:
    """The demo's own report (two simulated days, Monday and Tuesday of the demo's week)."""
    from scheduler.demo import runner
    from scheduler.savings.price_file import parse_prices

    with runner.embedded_aws():
        run = runner.run_demo(days=2, seed=3)
        report = runner.demo_report(run, parse_prices(runner.demo_text("prices.csv"), "demo prices"))
    return json.loads(json.dumps(report))


@requires_chromium
def test_demo_report_in_a_browser(demo_report, shots):
    page = render_html(demo_report)
    metrics = measure(page, "demo", shots)
    check_layout(metrics)
    chart = daily(metrics)
    # The demo starts on a Monday late in the month: the chart starts there (not on the 1st) and ends at `at`.
    shown = day_labels(chart)
    first_stop = min(s["start"][:10] for r in demo_report["resources"] for s in r["stops"])
    assert shown[0] == str(int(first_stop[8:10])) and len(shown) == 2
    check_bars_span_the_axis(chart, len(shown))
    hours = next(c for c in metrics["charts"] if c["label"].startswith("Running and stopped"))
    names = {t["text"] for t in hours["texts"]}
    assert {g["schedule"] for g in demo_report["by_schedule"]} <= names  # every name whole, none shortened
    screenshot(page, "demo", shots)


@requires_chromium
def test_partial_month_on_its_third_day(shots):
    now = datetime.now(UTC)
    at = datetime(now.year, now.month, 3, 12, tzinfo=UTC)
    report = sample_report(at.strftime("%Y-%m"), at=at)
    page = render_html(report)
    metrics = measure(page, "day3", shots)
    check_layout(metrics)
    chart = daily(metrics)
    assert day_labels(chart) == ["1", "2", "3"]  # the days counted, not the month
    check_bars_span_the_axis(chart, 3)
    screenshot(page, "day3", shots)


@requires_chromium
def test_quarter_with_trend_and_tags(shots):
    report = sample_report("2026-01", "2026-03", at=datetime(2026, 3, 20, 12, tzinfo=UTC), group_by_tag="Team")
    page = render_html(report)
    metrics = measure(page, "quarter", shots)
    check_layout(metrics)
    trend = next(c for c in metrics["charts"] if c["label"].startswith("Estimated savings per month"))
    assert [t["text"] for t in trend["texts"] if t["text"] in ("Jan 2026", "Feb", "Mar")] == ["Jan 2026", "Feb", "Mar"]
    assert trend["bars"] == 3
    chart = daily(metrics)
    check_bars_span_the_axis(chart, 79)  # 1 January to 19 March: every day counted
    screenshot(page, "quarter", shots)


@requires_chromium
def test_longest_names_and_wide_text_stay_inside_their_charts(shots):
    long = "a-very-long-schedule-name-that-goes-on-and-on-" + "W" * 18  # 64 characters, the longest allowed
    wide = "Ночная-обработка-данных-для-отчётов-Überstunden-Wöchentlich"  # a tag value may be any text
    report = sample_report("2026-03", at=datetime(2026, 3, 31, 12, tzinfo=UTC), rename={"office": long, "nights": wide})
    page = render_html(report)
    metrics = measure(page, "names", shots)
    check_layout(metrics)
    hours = next(c for c in metrics["charts"] if c["label"].startswith("Running and stopped"))
    assert any(t["text"].endswith("…") for t in hours["texts"])  # shortened, whole in the tables
    assert long in page and wide in page
    screenshot(page, "names", shots)
