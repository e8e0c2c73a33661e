"""The savings report from the store: the code behind ``isched report`` and the demo's report.

:func:`monthly_report` reads the ledger and state (:mod:`.ledger`), prices every resource's timeline, and,
when asked to (:class:`CostQuestions`), puts Cost Explorer's figures beside the estimate: the actual tagged spend,
its 12-month forecast, Reserved Instance and Savings Plans coverage of the stopped types, the accounts it covers,
and a reconciliation of actual against expected spend and against a baseline from before scheduling started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from scheduler.engine import Config, iso_z, parse_instant
from scheduler.services import registry
from scheduler.services.pricing import Pricing
from scheduler.store.state import ResourceRecord, StateStore

from .breakdown import build_report
from .costexplorer import METRICS, ActualSpend, CostExplorer, caller_account
from .coverage import commitment_coverage
from .keys import ResourceKey
from .ledger import MonthReader, earliest_first_seen, read_ledger, read_state
from .model import (
    Accounts,
    Actual,
    Baseline,
    Coverage,
    Cumulative,
    LinkedSpend,
    Month,
    Projection,
    Reconciliation,
    Report,
)
from .months import LEDGER_MONTHS_BACK, month_of, months_between, parse_month, shift_month
from .price_book import PriceBook
from .price_file import PriceTable
from .projection import project
from .usage import usages
from .valuation import Row, price_of, value_usages

BASELINE_DAYS = 30  # the baseline: the tagged spend of the 30 whole UTC days before scheduling started
CE_HISTORY_MONTHS = 13  # Cost Explorer keeps 13 months of daily and monthly data (38 with multi-year data on)


@dataclass
class CostQuestions:
    """What to ask Cost Explorer for a report: its client, the metric (``unblended`` | ``amortized``), the schedule
    tag, and whether to break the spend down by linked account (asking from the management account)."""

    explorer: CostExplorer
    metric: str = "unblended"
    tag_key: str = "Schedule"
    linked_accounts: bool = False
    today: date | None = None  # the real clock's UTC date (forecasts start there)


def ce_end_day(start: datetime, end: datetime, instant: datetime) -> date:
    """Cost Explorer's (exclusive) end date for a span counted up to ``instant``: whole UTC days, up to and
    including the report's day."""
    today = instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(start, min(end, today + timedelta(days=1))).date()


def not_asked(metric: str, tag_key: str, why: str) -> Actual:
    return {"metric": METRICS[metric], "tag_key": tag_key, "available": False, "note": why, "requests": 0}


def monthly_report(
    store: StateStore,
    month: str,
    instant: datetime,
    prices: PriceTable,
    *,
    config: Config | None,
    pricing_api: bool,
    actual: Actual | None = None,
    last_month: str | None = None,
    group_by_tag: str | None = None,
    ce: CostQuestions | None = None,
) -> Report:
    """The report's JSON (SPEC §3 shape plus breakdowns) for ``month`` (to ``last_month``) counted up to
    ``instant``. ``actual`` is Cost Explorer's spend as JSON when already known; otherwise ``ce`` asks it (and
    more), and without either the actual figures are null."""
    last = last_month or month
    several = last != month
    span = (parse_month(month)[0], parse_month(last)[1])
    reader = MonthReader(store)
    records = read_state(store)
    view = read_ledger(store, month, last, until=instant, records=records, reader=reader)
    found = usages(span[0], span[1], instant, view.entries, records, view.priors, config)
    book = PriceBook(prices, use_api=pricing_api)
    rows = value_usages(found, book.price)
    current = [(r.usage, price_of(r.usage.current, book.price)[0]) for r in rows if r.usage.current is not None]
    projection = project(current, config, instant, lookup=book.price)
    end_day = ce_end_day(span[0], span[1], instant)
    requests_before = ce.explorer.requests if ce is not None else 0
    months = months_between(month, last) if several else None
    monthly_spend: dict[str, ActualSpend] = {}
    if actual is None:
        if ce is None:
            actual = not_asked("unblended", "Schedule", "Cost Explorer was not asked")
        elif several:
            assert months is not None
            monthly_spend = ce.explorer.months_spend(months, span[0].date(), end_day, METRICS[ce.metric], ce.tag_key)
            actual = _combined_spend(monthly_spend, METRICS[ce.metric], ce.tag_key)
        else:
            actual = ce.explorer.month_spend(month, span[0].date(), end_day, METRICS[ce.metric], ce.tag_key).to_json()
    label = f"{month}/{last}" if several else month
    report = build_report(
        label,
        instant,
        rows,
        actual=actual,
        projection=projection,
        span=span,
        months=months,
        group_by_tag=group_by_tag,
    )
    if several:
        report["from_month"], report["to_month"] = month, last
        for m in report.get("months", []):
            spend = monthly_spend.get(m["month"])
            m["actual_cost"] = _money_or_none(spend.total) if spend is not None and spend.available else None
        report["cumulative"] = _cumulative(
            store, reader, records, month, instant, config, book, report.get("months", [])
        )
    notes = report["notes"]
    if actual.get("note"):
        notes.append(f"Actual cost: {actual['note']}")
    projected = report["projection"]
    assert projected is not None  # build_report copies the projection made above
    if ce is not None:
        _ask_more(report, projected, rows, ce, span, end_day, records, notes)
    else:
        report["accounts"] = {
            "calling_account": None,
            "in_report": sorted({r.usage.key.account for r in rows}),
            "covered": None,
            "not_covered": None,
            "scope": "Cost Explorer was not asked",
            "by_account": {},
            "note": None,
        }
        report["commitment_coverage"] = None
        projected["cost_explorer_forecast"] = None
        report["reconciliation"] = reconcile(report, rows, None, span, end_day)
    if projected.get("note"):
        notes.append(f"Projection: {projected['note']}")
    report["ce_requests"] = (
        (ce.explorer.requests - requests_before) if ce is not None else int(actual.get("requests") or 0)
    )
    report["pricing_api_requests"] = book.api_requests
    report["ledger_months_read"] = reader.reads
    book.save()
    return report


def _money_or_none(value: Decimal | None) -> float | None:
    return None if value is None else float(round(value, 2))


def _combined_spend(by_month: Mapping[str, ActualSpend], metric: str, tag_key: str) -> Actual:
    """The spend of several months as one figure: known only when every month's is."""
    spends = list(by_month.values())
    out: Actual = {
        "metric": metric,
        "tag_key": tag_key,
        "available": bool(spends) and all(s.available for s in spends),
        "requests": sum(s.requests for s in spends),
        "cached": all(s.cached for s in spends),
        "estimated": any(s.estimated for s in spends),
        "note": None,
    }
    missing = [m for m, s in by_month.items() if not s.available]
    if out["available"]:
        out["total"] = _money_or_none(sum((s.total or Decimal(0) for s in spends), Decimal(0)))
        out["all_services"] = _money_or_none(sum((s.all_services or Decimal(0) for s in spends), Decimal(0)))
        per: dict[str, Decimal] = {}
        for s in spends:
            for k, v in s.by_schedule.items():
                per[k] = per.get(k, Decimal(0)) + v
        out["by_schedule_total"] = {k: _money_or_none(v) for k, v in sorted(per.items())}
    else:
        out["total"] = None
        first = next((s.note for s in spends if s.note), None)
        out["note"] = f"no tagged cost for {', '.join(missing)}" + (f": {first}" if first else "")
    return out


def _cumulative(
    store: StateStore,
    reader: MonthReader,
    records: Mapping[ResourceKey, ResourceRecord],
    month: str,
    instant: datetime,
    config: Config | None,
    book: PriceBook,
    months: list[Month],
) -> Cumulative:
    """Savings since the scheduler's first action: the months before the span (as far as the ledger goes back),
    then each month of the span added in turn (``cumulative_savings`` of each month)."""
    first_seen = earliest_first_seen(records)
    oldest = shift_month(month_of(instant), -LEDGER_MONTHS_BACK)
    begin = max(month_of(first_seen), oldest) if first_seen is not None else month
    before = Decimal(0)
    first_action: str | None = None
    if begin < month:
        start = parse_month(begin)[0]
        end = parse_month(month)[0]
        view = read_ledger(
            store, begin, shift_month(month, -1), until=min(instant, end), records=dict(records), reader=reader
        )
        rows = value_usages(
            usages(start, end, min(instant, end), view.entries, records, view.priors, config), book.price
        )
        before = sum((r.savings or Decimal(0) for r in rows if r.priced), Decimal(0))
        actions = [parse_instant(str(e["at"])) for e in view.entries if e.get("action") in ("stop", "start", "resize")]
        first_action = iso_z(min(actions)) if actions else None
    running = before
    for m in months:
        if m["estimated_savings"] is not None:
            running += Decimal(str(m["estimated_savings"]))
        m["cumulative_savings"] = float(running)
    return {
        "since_month": begin,
        "first_action_before_span": first_action,
        "estimated_savings_before_span": float(before),
        "estimated_savings": float(running),
        "note": None
        if first_seen is None or month_of(first_seen) >= oldest
        else f"the ledger keeps 800 days: savings before {oldest} are not counted",
    }


def _accounts(rows: Sequence[Row], caller: str | None, linked: LinkedSpend | None) -> Accounts:
    """Which accounts the actual figures cover, against the accounts in the report."""
    in_report = sorted({r.usage.key.account for r in rows})
    if linked is not None and linked["available"]:
        covered = sorted(linked["by_account"])
        scope = "linked accounts (asked from the management account, broken down by LINKED_ACCOUNT)"
    elif caller is not None:
        covered = [caller]
        scope = (
            "the calling account only; if it is the organization's management (payer) account, every member "
            "account's cost is included (ask with --linked-accounts for the breakdown)"
        )
    else:
        covered = []
        scope = "not known"
    missing = [a for a in in_report if a not in covered]
    note = None
    if missing and (linked is None or not linked["available"]):
        note = (
            f"Cost Explorer answers for the account that asks ({caller or 'unknown'}): the actual cost includes "
            f"accounts {', '.join(missing)} only if that is their organization's management account; run the "
            "report with the management account's credentials and --linked-accounts for a per-account breakdown."
        )
    elif missing:
        note = f"no tagged compute cost in Cost Explorer for accounts {', '.join(missing)}"
    return {
        "calling_account": caller,
        "in_report": in_report,
        "covered": covered,
        "not_covered": missing,
        "scope": scope,
        "by_account": dict(linked["by_account"]) if linked is not None else {},
        "note": note,
    }


def _ask_more(
    report: Report,
    projected: Projection,
    rows: Sequence[Row],
    ce: CostQuestions,
    span: tuple[datetime, datetime],
    end_day: date,
    records: Mapping[ResourceKey, ResourceRecord],
    notes: list[str],
) -> None:
    """Cost Explorer beside the estimate: accounts, coverage, forecast, baseline and reconciliation."""
    explorer = ce.explorer
    metric = METRICS[ce.metric]
    start_day = span[0].date()
    caller = caller_account()
    linked = explorer.linked_spend(start_day, end_day, metric, ce.tag_key) if ce.linked_accounts else None
    accounts = _accounts(rows, caller, linked)
    report["accounts"] = accounts
    if linked is not None:
        for g in report["by_account"]:
            g["actual_cost"] = linked["by_account"].get(g["account"]) if linked["available"] else None
        if linked["note"]:
            notes.append(f"Per-account actual cost: {linked['note']}")
    if accounts["note"]:
        notes.append(accounts["note"])

    # Reserved Instances and Savings Plans: do they cover the stopped types?
    if any(r.usage.stops for r in rows) and end_day > start_day:
        coverage = commitment_coverage(explorer, start_day, end_day)
        _apply_coverage(report, rows, coverage, notes)
    else:
        report["commitment_coverage"] = None

    # Cost Explorer's own forecast, beside the projection.
    today = ce.today or datetime.now(UTC).date()
    until = date(today.year + 1, today.month, 1)
    schedules = sorted({r.usage.schedule for r in rows if r.usage.schedule})
    forecast = explorer.forecast(today, until, metric, ce.tag_key, schedules)
    projected["cost_explorer_forecast"] = forecast
    if forecast["note"]:
        notes.append(f"Cost Explorer forecast: {forecast['note']}")

    baseline = _baseline(rows, records, ce, span, end_day)
    report["reconciliation"] = reconcile(report, rows, baseline, span, end_day)


def _apply_coverage(report: Report, rows: Sequence[Row], coverage: Coverage, notes: list[str]) -> None:
    reservations = coverage["reservations"]
    plans = coverage["savings_plans"]
    flagged: list[str] = []
    for row, out in zip(rows, report["resources"], strict=True):
        if not row.usage.stops:
            continue
        if not coverage["available"]:
            continue
        service = _price_list(row.usage.key.service)
        region = row.usage.key.region
        types = sorted({t for s in row.usage.stops for t in _plain_types(s.pricing)})
        ri = [reservations.get(f"{service}|{region}|{t}") for t in types]
        sp = [plans.get(f"{region}|{t.split('.')[0]}") for t in types if service == "ec2"]
        answered = coverage["answered"]
        # A type missing from an answer had no coverage (0); a question not answered is unknown (None).
        ri_answered = answered["rds"] if service == "rds" else answered["ec2"]
        ri_pct = max((p or 0.0 for p in ri), default=0.0) if ri_answered else None
        sp_pct = max((p or 0.0 for p in sp), default=0.0) if service == "ec2" and answered["savings_plans"] else None
        known = [p for p in (ri_pct, sp_pct) if p is not None]
        unknown = ri_pct is None or (service == "ec2" and sp_pct is None)
        covered: bool | None = True if any(known) else (None if unknown else False)
        out["commitment_coverage"] = {
            "reserved_instances_percent": ri_pct,
            "savings_plans_percent": sp_pct,
            "covered": covered,
        }
        if covered:
            flagged.append(f"{out['resource']} ({', '.join(types)} in {region})")
    report["commitment_coverage"] = coverage.copy()
    if not coverage["available"]:
        notes.append(
            "Reserved Instance and Savings Plans coverage is not available ("
            + "; ".join(coverage["notes"] or ["not asked"])
            + "): where commitments cover the stopped types, a stop saves less than shown."
        )
    elif flagged:
        notes.append(
            "Reserved Instances or Savings Plans covered part of these stopped types this period, so stopping them "
            "saves less than shown (the commitment is paid either way): " + "; ".join(flagged) + "."
        )
    for n in coverage["notes"]:
        if coverage["available"]:
            notes.append(n)


def _plain_types(pricing: Pricing) -> list[str]:
    return [c.query.type for c in pricing.components]


def _baseline(
    rows: Sequence[Row],
    records: Mapping[ResourceKey, ResourceRecord],
    ce: CostQuestions,
    span: tuple[datetime, datetime],
    end_day: date,
) -> Baseline:
    """The tagged compute spend per day over the 30 days before scheduling began, scaled to the report's days."""
    keys = {r.usage.key for r in rows}
    began = earliest_first_seen({k: v for k, v in records.items() if k in keys})
    out: Baseline = {
        "from": None,
        "to": None,
        "days": BASELINE_DAYS,
        "total": None,
        "per_day": None,
        "for_this_period": None,
        "note": None,
    }
    if began is None:
        out["note"] = "no record says when scheduling began"
        return out
    end = began.date()
    start = end - timedelta(days=BASELINE_DAYS)
    out["from"], out["to"] = start.isoformat(), end.isoformat()
    today = ce.today or datetime.now(UTC).date()
    if start < date(today.year - 1, today.month, 1) - timedelta(days=31):
        out["note"] = (
            f"scheduling began {end.isoformat()}, before Cost Explorer's {CE_HISTORY_MONTHS} months of history: "
            "no baseline"
        )
        return out
    spend = ce.explorer.month_spend(f"baseline {start}", start, end, METRICS[ce.metric], ce.tag_key)
    if not spend.available or spend.total is None:
        out["note"] = (
            f"Cost Explorer has no cost tagged '{ce.tag_key}' before scheduling began ({spend.note or 'empty'}); "
            "cost allocation tags only apply to usage after the tag was put on a resource"
        )
        return out
    per_day = spend.total / BASELINE_DAYS
    days = (end_day - span[0].date()).days
    out["total"] = _money_or_none(spend.total)
    out["per_day"] = float(round(per_day, 4))
    out["for_this_period"] = _money_or_none(per_day * days)
    out["period_days"] = days
    return out


def reconcile(
    report: Report,
    rows: Sequence[Row],
    baseline: Baseline | None,
    span: tuple[datetime, datetime],
    end_day: date,
) -> Reconciliation:
    """Actual tagged compute spend against what the ledger and prices say it should have been, and against the
    baseline from before scheduling; the variance, and what explains it."""
    totals = report["totals"]
    actual = report["actual"]
    actual_cost = totals["actual_cost"]
    expected = totals["estimated_running_cost"]
    invisible = [r for r in rows if r.priced and _not_under_tag(r)]
    hidden = sum((r.running_cost or Decimal(0) for r in invisible), Decimal(0))
    out: Reconciliation = {
        "period": {"from": span[0].date().isoformat(), "to": end_day.isoformat(), "counted_to": report["at"]},
        "actual_cost": actual_cost,
        "expected_cost": expected,
        "cost_if_always_running": totals["cost_if_always_running"],
        "estimated_savings": totals["estimated_savings"],
        "expected_cost_not_under_tag": _money_or_none(hidden) if invisible else 0.0,
        "variance": None,
        "variance_percent": None,
        "variance_under_tag": None,
        "baseline": baseline.copy() if baseline is not None else None,
        "savings_vs_baseline": None,
        "explanation": [],
    }
    why: list[str] = out["explanation"]
    if actual_cost is None:
        why.append(
            f"No actual cost from Cost Explorer: {(actual['note'] if actual is not None else None) or 'not available'}."
        )
    if actual_cost is not None and expected is not None:
        variance = Decimal(str(actual_cost)) - Decimal(str(expected))
        out["variance"] = _money_or_none(variance)
        if expected:
            out["variance_percent"] = float(round(variance * 100 / Decimal(str(expected)), 2))
        out["variance_under_tag"] = _money_or_none(variance + hidden)
        direction = "above" if variance > 0 else "below" if variance < 0 else "equal to"
        why.append(
            f"Actual tagged compute spend is US${abs(variance):,.2f} {direction} the expected "
            "(running hours × on-demand price)."
        )
    if invisible:
        why.append(
            f"US${hidden:,.2f} of the expected cost is Auto Scaling group instances or Aurora cluster members "
            "(or ECS tasks, EKS node group instances) "
            f"({', '.join(list(dict.fromkeys(r.usage.key.resource for r in invisible))[:10])}): they do not carry "
            "the schedule tag unless it was propagated to them (`isched tag` does for groups and clusters; a tag set "
            "elsewhere may not), so Cost Explorer may not count them under it"
            + (
                f"; against the expected cost of what it can see, the actual is "
                f"US${out['variance_under_tag']:,.2f} off."
                if out["variance_under_tag"] is not None
                else "."
            )
        )
    if totals["unpriced_resources"]:
        why.append(
            f"{totals['unpriced_resources']} unpriced resource(s) are in the actual cost but not in the expected."
        )
    why.append(
        "The expected cost is at on-demand list prices; the actual reflects Reserved Instances, Savings Plans, "
        "credits and discounts, and the metric chosen."
    )
    why.append(
        f"Cost Explorer counts whole UTC days to {end_day.isoformat()} (its latest day is usually incomplete: "
        f"data lags by up to 24 hours); the ledger counts to {report['at']}."
    )
    if actual is not None and actual.get("estimated"):
        why.append("Cost Explorer marks these figures as estimated: the month is not closed.")
    why.append(
        "The actual cost includes every resource carrying the tag, also ones isched does not manage (other "
        "regions, services or accounts than it scans), and storage is not in it (compute services only)."
    )
    not_covered = report["accounts"]["not_covered"] if "accounts" in report else None
    if not_covered:
        why.append(f"Accounts not covered by the actual figures: {', '.join(not_covered)}.")
    per_day, for_period = (baseline["per_day"], baseline["for_this_period"]) if baseline is not None else (None, None)
    if baseline is not None and for_period is not None and per_day is not None and actual_cost is not None:
        diff = Decimal(str(for_period)) - Decimal(str(actual_cost))
        out["savings_vs_baseline"] = _money_or_none(diff)
        why.append(
            f"Against the baseline (US${per_day:,.4f} a day in the {baseline['days']} days before "
            f"scheduling began, over {baseline.get('period_days')} days: US${for_period:,.2f}), "
            f"this period's actual is US${abs(diff):,.2f} {'lower' if diff >= 0 else 'higher'}; fleet changes since "
            "then are in this difference too."
        )
    elif baseline is not None and baseline["note"]:
        why.append(f"No baseline: {baseline['note']}.")
    return out


def _price_list(service: str) -> str:
    """The price list (and commitment coverage) a service's usage falls under: "ec2" or "rds"."""
    return registry.get(service).price_list if service in registry.SERVICES else "ec2"


def _not_under_tag(row: Row) -> bool:
    """Resources whose billed instances do not carry the schedule tag themselves."""
    service = row.usage.key.service
    return service in registry.SERVICES and not registry.get(service).billed_under_own_tag(row.usage.pricing)
