"""The report page's tables: one generic builder (escaped cells, numbers right-aligned, "unknown" flagged),
the per-group tables (by schedule, tag, account, service) and the per-resource table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .formats import escape, fields, money, num, number, price
from .model import Report


def _cell(text: str, numeric: bool) -> str:
    cls = ["n"] if numeric else []
    if text == "unknown":
        cls.append("unknown")
    attr = f' class="{" ".join(cls)}"' if cls else ""
    return f"<td{attr}>{escape(text)}</td>"


Cell = str | tuple[str, str]  # text, or (text, second line in muted type: a Name tag, a flag)


def html_table(
    headers: Sequence[tuple[str, bool]],
    rows: Iterable[Sequence[Cell]],
    total: Sequence[str] | None = None,
    cls: str = "",
) -> str:
    head = "".join(f'<th class="n">{escape(h)}</th>' if n else f"<th>{escape(h)}</th>" for h, n in headers)
    body = []
    for row in rows:
        cells: list[str] = []
        for (_, numeric), cell in zip(headers, row, strict=True):
            if isinstance(cell, tuple):
                text, extra = cell
                inner = escape(text) + (f'<div class="name">{escape(extra)}</div>' if extra else "")
                cells.append(f'<td class="n">{inner}</td>' if numeric else f"<td>{inner}</td>")
            else:
                cells.append(_cell(cell, numeric))
        body.append("<tr>" + "".join(cells) + "</tr>")
    if total is not None:
        last = "".join(
            f'<td class="n">{escape(c)}</td>' if n else f"<td>{escape(c)}</td>"
            for (_, n), c in zip(headers, total, strict=True)
        )
        body.append(f'<tr class="total">{last}</tr>')
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _unpriced_cell(g: Mapping[str, object]) -> str:
    n = g.get("unpriced_resources") or 0
    if not n:
        return ""
    return f"{n} ({number(num(g.get('unpriced_stopped_hours')))} h)"


def group_table(groups: Sequence[Mapping[str, object]], name: str, title: str, with_actual: bool = False) -> str:
    headers = [
        (title, False),
        ("resources", True),
        ("running h", True),
        ("stopped h", True),
        ("by hand h", True),
        ("lost to manual starts h", True),
        ("lost to overrides h", True),
        ("est. savings", True),
        ("est. running cost", True),
        ("unpriced (stopped h)", True),
    ]
    if with_actual:
        headers.append(("actual cost (CE)", True))
    rows = []
    for g in groups:
        row: list[Cell] = [
            str(g[name]) if g[name] not in (None, "") else ("(untagged)" if name == "value" else "(none)"),
            str(g["resources"]),
            number(num(g.get("running_hours"))),
            number(num(g.get("stopped_hours"))),
            number(num(g.get("manual_stopped_hours"))),
            number(num(g.get("manual_start_hours"))),
            unknown_or_hours(g.get("override_hours")),
            money(num(g.get("estimated_savings"))),
            money(num(g.get("estimated_running_cost"))),
            _unpriced_cell(g),
        ]
        if with_actual:
            row.append(money(num(g.get("actual_cost")), "—"))
        rows.append(row)
    return html_table(headers, rows)


def unknown_or_hours(value: object) -> str:
    """Hours, or "unknown" where the report could not tell (e.g. hours lost to overrides, schedule unknown)."""
    return number(num(value)) if value is not None else "unknown"


def resource_table(report: Report) -> str:
    t = report["totals"]
    rows: list[list[Cell]] = []
    for r in report["resources"]:
        units = r.get("units")
        typ = (r.get("type") or "?") + (
            f" ×{units}" if units not in (1, None) and "," not in (r.get("type") or "") else ""
        )
        flags = []
        if r.get("gone_at"):
            flags.append(f"gone {str(r['gone_at'])[:16].replace('T', ' ')}")
        coverage = fields(r.get("commitment_coverage"))
        if isinstance(coverage, Mapping) and coverage.get("covered"):
            flags.append("RI/SP covered")
        manual_start = r.get("manual_start_hours")
        rows.append(
            [
                (str(r["resource"]), str(r.get("name") or "")),
                (str(r["account"]), str(r["region"])),
                str(r["service"]),
                str(r["schedule"] or "(none)"),
                (typ, "; ".join(flags)),
                number(num(r.get("running_hours"))),
                number(num(r.get("stopped_hours"))),
                number(num(r.get("manual_stopped_hours"))),
                number(num(manual_start)) if manual_start is not None else "unknown",
                unknown_or_hours(r.get("override_hours")),
                price(num(r.get("hourly_price"))),
                money(num(r.get("estimated_savings"))),
            ]
        )
    return html_table(
        [
            ("resource / Name", False),
            ("account / region", False),
            ("service", False),
            ("schedule", False),
            ("type", False),
            ("running h", True),
            ("stopped h", True),
            ("by hand h", True),
            ("lost h", True),
            ("override h", True),
            ("hourly price", True),
            ("est. savings", True),
        ],
        rows,
        total=[
            "total",
            "",
            "",
            f"{len(report['resources'])} resources",
            "",
            number(num(t.get("running_hours"))),
            number(num(t.get("stopped_hours"))),
            number(num(t.get("manual_stopped_hours"))),
            number(num(t.get("manual_start_hours"))) if t.get("manual_start_hours") is not None else "unknown",
            unknown_or_hours(t.get("override_hours")),
            "",
            money(num(t.get("estimated_savings"))),
        ],
        cls="resources",
    )
