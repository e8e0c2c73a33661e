"""The report's figures as text, and the report as CSV (per-resource rows, and a summary block when asked).

Names, tag values and notes come from users and from AWS and are shown as data: :func:`escape` for HTML text and
attribute values alike, and CSV cells that a spreadsheet would run as a formula start with a quote
(:func:`csv_cell`). An unknown figure (a resource without a price, a Cost Explorer figure that is not available) is
"unknown" (or an empty CSV cell), never $0.
"""

from __future__ import annotations

import calendar
import csv
import html
import io
import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from .model import Report, ResourceJson

CSV_FIELDS = (
    "month",
    "account",
    "region",
    "service",
    "resource",
    "schedule",
    "type",
    "units",
    "stopped_hours",
    "running_hours",
    "hourly_price",
    "estimated_savings",
    "price_source",
    "note",
    # Added after the first release: appended, so that column positions readers rely on stay where they were.
    "name",
    "manual_stopped_hours",
    "manual_start_hours",
    "managed_hours",
    "estimated_running_cost",
    "gone_at",
    "commitment_covered",
    "billing_while_stopped",
    "billing_while_stopped_cost",
    "tags",
    "maintenance_hours",
    "override_hours",
)
SUMMARY_FIELDS = ("section", "item", "field", "value")


def escape(value: object) -> str:
    """Any value as HTML text or a quoted attribute value: ``& < > " '`` escaped (``None`` is empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


# What a spreadsheet reads as the start of a formula (OWASP "CSV injection"), and a plain number, which it does not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs as a formula: text starting with ``= + - @``, a tab or a carriage
    return gets a leading single quote; numbers (and text that is just a number, like ``-1.5``) stay numbers."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def money(value: float | None, unknown: str = "unknown") -> str:
    return unknown if value is None else f"${value:,.2f}"


def signed_money(value: float | None, unknown: str = "unknown") -> str:
    """``+$1.50`` / ``−$1.50`` (a difference); ``$0.00`` for none."""
    if value is None:
        return unknown
    if value == 0:
        return "$0.00"
    return f"{'+' if value > 0 else '−'}${abs(value):,.2f}"


def price(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.4f}/h"


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def num(value: object) -> float | None:
    """A number from the report, or None (a missing, null or non-numeric value is unknown, never 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return float(value)


def month_title(month: str) -> str:
    """``2026-11`` as "November 2026"; a span ``2026-01/2026-03`` as "January 2026 – March 2026"."""
    if "/" in month:
        first, last = month.split("/", 1)
        return f"{month_title(first)} – {month_title(last)}"
    try:
        year, m = month.split("-")
        return f"{calendar.month_name[int(m)]} {year}"
    except (ValueError, IndexError):
        return month


def fields(part: object) -> Mapping[str, object]:
    """A part of a report read field by field (a figure through :func:`num`): the JSON object, or empty when the
    part is absent (a key a report may lack, like ``reconciliation``) or not an object."""
    return part if isinstance(part, Mapping) else {}


def records(part: object) -> list[Mapping[str, object]]:
    """A list of objects in a report, read field by field (empty when absent)."""
    return [fields(p) for p in part] if isinstance(part, list) else []


def texts(part: object) -> list[str]:
    """A list of sentences or names in a report (empty when absent)."""
    return [str(t) for t in part] if isinstance(part, list) else []


def instant_or_none(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _resource_cells(report: Report, r: ResourceJson) -> list[object]:
    coverage = fields(r.get("commitment_coverage"))
    billing = fields(r.get("billing_while_stopped"))
    tags = r.get("tags")
    row = {
        **r,
        "month": report["month"],
        "commitment_covered": coverage.get("covered") if isinstance(coverage, Mapping) else None,
        "billing_while_stopped": billing.get("what") if isinstance(billing, Mapping) else None,
        "billing_while_stopped_cost": billing.get("estimated_cost") if isinstance(billing, Mapping) else None,
        "tags": json.dumps(tags, ensure_ascii=False, sort_keys=True) if isinstance(tags, Mapping) else None,
    }
    cells = []
    for f in CSV_FIELDS:
        value = row.get(f)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        cells.append(csv_cell(value))
    return cells


def render_csv(report: Report, *, summary: bool = False) -> str:
    """One row per resource (:data:`CSV_FIELDS`); an empty cell where a value is unknown (never 0 for an unknown
    price). With ``summary``, the report-level figures follow: after one empty row, a second block with its own
    header ``section,item,field,value`` (:func:`summary_rows`): totals, the notes, the reconciliation and its
    explanation, the projection beside Cost Explorer's forecast, the months, the groups. A reader that wants only
    the resources stops at the first empty row (:func:`read_csv_blocks` splits the two)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in report["resources"]:
        writer.writerow(_resource_cells(report, r))
    if summary:
        writer.writerow([])
        writer.writerow(SUMMARY_FIELDS)
        for row in summary_rows(report):
            writer.writerow([csv_cell(c) for c in row])
    return out.getvalue()


def read_csv_blocks(text: str) -> list[list[dict[str, str]]]:
    """The blocks of a :func:`render_csv` text (resources, then the summary if any), each as dict rows."""
    blocks: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(text)):
        if not row:
            blocks.append([])
        else:
            blocks[-1].append(row)
    return [[dict(zip(b[0], r, strict=False)) for r in b[1:]] for b in blocks if b]


_TOTAL_FIELDS = (
    "resources",
    "priced_resources",
    "unpriced_resources",
    "stopped_hours",
    "unpriced_stopped_hours",
    "running_hours",
    "manual_stopped_hours",
    "manual_start_hours",
    "maintenance_hours",
    "override_hours",
    "estimated_savings",
    "estimated_running_cost",
    "cost_if_always_running",
    "savings_percent",
    "actual_cost",
)
_GROUP_FIELDS = (
    "resources",
    "stopped_hours",
    "running_hours",
    "manual_stopped_hours",
    "manual_start_hours",
    "override_hours",
    "estimated_savings",
    "estimated_running_cost",
    "unpriced_resources",
    "unpriced_stopped_hours",
    "actual_cost",
)


def summary_rows(report: Report) -> list[list[object]]:
    """The report-level figures as ``[section, item, field, value]`` rows (a value ``None`` is unknown)."""
    rows: list[list[object]] = [["report", "", "month", report.get("month")], ["report", "", "at", report.get("at")]]
    rows.append(["report", "", "currency", report.get("currency", "USD")])
    t = fields(report.get("totals"))
    rows += [["totals", "", f, t.get(f)] for f in _TOTAL_FIELDS if f in t]
    billing = fields(t.get("billing_while_stopped"))
    if billing:
        rows.append(["totals", "", "billing_while_stopped_cost", billing.get("estimated_cost")])
        rows.append(["totals", "", "billing_while_stopped_resources", billing.get("estimated_resources")])
    for n, note in enumerate(report.get("notes") or [], 1):
        rows.append(["note", n, "text", note])
    rec = fields(report.get("reconciliation"))
    if rec:
        period = fields(rec.get("period"))
        rows += [["reconciliation", "", f"period_{k}", v] for k, v in period.items()]
        for f in (
            "actual_cost",
            "expected_cost",
            "cost_if_always_running",
            "estimated_savings",
            "expected_cost_not_under_tag",
            "variance",
            "variance_percent",
            "variance_under_tag",
            "savings_vs_baseline",
        ):
            rows.append(["reconciliation", "", f, rec.get(f)])
        baseline = fields(rec.get("baseline"))
        for f in ("from", "to", "days", "total", "per_day", "for_this_period", "note"):
            if f in baseline:
                rows.append(["reconciliation", "baseline", f, baseline.get(f)])
        for n, line in enumerate(texts(rec.get("explanation")), 1):
            rows.append(["reconciliation", "explanation", n, line])
    proj = fields(report.get("projection"))
    if proj:
        for f in ("from", "to", "stopped_hours", "estimated_savings", "estimated_running_cost", "unpriced_resources"):
            rows.append(["projection", "", f, proj.get(f)])
        for p in records(proj.get("by_schedule")):
            rows.append(["projection", p.get("schedule"), "estimated_savings", p.get("estimated_savings")])
        forecast = fields(proj.get("cost_explorer_forecast"))
        for f in ("from", "to", "total", "lower_bound", "upper_bound", "note"):
            if f in forecast:
                rows.append(["cost_explorer_forecast", "", f, forecast.get(f)])
    accounts = fields(report.get("accounts"))
    if accounts:
        rows.append(["accounts", "", "scope", accounts.get("scope")])
        for f in ("in_report", "covered", "not_covered"):
            if accounts.get(f) is not None:
                rows.append(["accounts", "", f, " ".join(texts(accounts[f]))])
    for m in report.get("months") or []:
        for f in ("stopped_hours", "unpriced_stopped_hours", "estimated_savings", "actual_cost", "cumulative_savings"):
            if f in m:
                rows.append(["month", m["month"], f, m.get(f)])
    cumulative = fields(report.get("cumulative"))
    if cumulative:
        rows.append(
            ["cumulative", cumulative.get("since_month"), "estimated_savings", cumulative.get("estimated_savings")]
        )
    for section, name in (("schedule", "by_schedule"), ("account", "by_account"), ("service", "by_service")):
        for g in records(fields(report).get(name)):
            rows += [[section, g.get(section), f, g.get(f)] for f in _GROUP_FIELDS if f in g]
    by_tag = fields(report.get("by_tag"))
    for g in records(by_tag.get("groups")):
        value = g.get("value")
        item = f"{by_tag.get('key')}={value}" if value is not None else f"{by_tag.get('key')} (untagged)"
        rows += [["tag", item, f, g.get(f)] for f in _GROUP_FIELDS if f in g]
    return rows
