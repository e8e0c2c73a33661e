"""``isched suggest``'s analysis, step by step (tables), with hypothesis properties over random busy hours, the
CloudWatch batching against botocore's Stubber, and the command's refusals of bad input (exit 2, no AWS call)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.engine import Evaluator, parse_config
from scheduler.suggest import analysis as A
from scheduler.suggest import metrics as M
from scheduler.suggest.analysis import HourValues, Observation, Status, Thresholds
from tests.conftest import Result

UTC_ZONE = ZoneInfo("UTC")
END = datetime(2026, 3, 16, tzinfo=UTC)  # a Monday 00:00 UTC
H = timedelta(hours=1)


def hours(days: int = 14, end: datetime = END) -> list[datetime]:
    return [end - timedelta(days=days) + i * H for i in range(days * 24)]


def office(t: datetime, tz: ZoneInfo = UTC_ZONE, begin: int = 8, end: int = 18) -> bool:
    local = t.astimezone(tz)
    return local.weekday() < 5 and begin <= local.hour < end


def values(busy: Callable[[datetime], bool], days: int = 14, end: datetime = END) -> list[HourValues]:
    return [HourValues(t, cpu=60.0 if busy(t) else 1.0, network=1000.0) for t in hours(days, end)]


def mask_of(slots: set[int]) -> A.Mask:
    return tuple(s in slots for s in range(A.HOURS_PER_WEEK))


def analyse(vals: list[HourValues], timezone: str = "UTC", stored: object = None) -> A.Analysis:
    ref = A.week_start(END, ZoneInfo(timezone))
    return A.analyse(vals, analysed_hours=336, timezone=timezone, reference=ref, stored=stored)  # type: ignore[arg-type]


# --- step 1: an hour's metrics -> busy, idle or unknown ------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "network", "connections", "expected"),
    [
        (None, 10.0, None, None),  # no CPU datapoint: nothing known (stopped, or no data)
        (9.99, None, None, False),
        (10.0, None, None, True),  # at the threshold is busy
        (1.0, 5 * 1024 * 1024 - 1, None, False),
        (1.0, 5 * 1024 * 1024, None, True),
        (1.0, None, 0.0, False),
        (1.0, None, 1.0, True),  # one connection is use
        (50.0, 0.0, 0.0, True),
    ],
)
def test_classify(cpu: float | None, network: float | None, connections: float | None, expected: bool | None) -> None:
    assert A.classify(HourValues(END, cpu, network, connections), Thresholds()) is expected


# --- step 2: hour-of-week slots ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "zone", "expected"),
    [
        ("2026-03-16T00:00:00+00:00", "UTC", (0,)),  # Monday 00:00
        ("2026-03-22T23:00:00+00:00", "UTC", (167,)),  # Sunday 23:00
        ("2026-03-16T08:00:00+00:00", "Europe/Berlin", (9,)),  # CET: Monday 09:00
        ("2026-03-30T08:00:00+00:00", "Europe/Berlin", (10,)),  # CEST after the change: Monday 10:00
        ("2026-03-16T03:00:00+00:00", "Asia/Kolkata", (8, 9)),  # 08:30-09:30 local: two slots
        ("2026-03-15T18:00:00+00:00", "Asia/Kolkata", (167, 0)),  # Sunday 23:30 to Monday 00:30
    ],
)
def test_slots(instant: str, zone: str, expected: tuple[int, ...]) -> None:
    assert A.slots(datetime.fromisoformat(instant), ZoneInfo(zone)) == expected


def test_bucket_counts_each_week() -> None:
    obs = [Observation(END - timedelta(days=7), True), Observation(END, False), Observation(END + H, True)]
    grid = A.bucket(obs, UTC_ZONE)
    assert (grid.busy[0], grid.idle[0], grid.busy[1], grid.idle[1]) == (1, 1, 1, 0)
    assert A.needed_mask(grid)[:3] == (True, True, False)


# --- step 4: gaps ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("needed", "filled"),
    [
        (set(), set()),
        (set(range(168)), set(range(168))),
        ({8, 10}, {8, 9, 10}),  # a one-hour gap is run through
        ({8, 11}, {8, 11}),  # a two-hour gap is a stop
        ({0, 166}, {0, 166, 167}),  # around the week: Sunday 23:00 joins Monday 00:00
        ({1, 167}, {1, 167, 0}),
        (set(range(167)), set(range(168))),  # one idle hour in the week: busy at all hours
    ],
)
def test_fill_gaps(needed: set[int], filled: set[int]) -> None:
    assert A.fill_gaps(mask_of(needed)) == mask_of(filled)


# --- step 5: windows and periods ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ([0, 1, 2, 3, 4], "mon-fri"),
        ([0, 2, 4], "mon,wed,fri"),
        ([5, 6], "sat,sun"),
        ([0, 1, 2, 4, 5, 6], "mon-wed,fri-sun"),
        ([6], "sun"),
    ],
)
def test_weekday_text(days: list[int], text: str) -> None:
    assert A.weekday_text(days) == text


def slot_set(days: range | list[int], begin: int, end: int) -> set[int]:
    return {d * 24 + h for d in days for h in range(begin, end)}


@pytest.mark.parametrize(
    ("running", "bodies"),
    [
        (
            slot_set(range(5), 8, 18),
            [{"begintime": "08:00", "endtime": "18:00", "weekdays": "mon-fri"}],
        ),
        (
            slot_set(range(5), 8, 18) | slot_set([5], 10, 12),
            [
                {"begintime": "08:00", "endtime": "18:00", "weekdays": "mon-fri"},
                {"begintime": "10:00", "endtime": "12:00", "weekdays": "sat"},
            ],
        ),
        (  # overnight every night: to midnight, then from midnight (the engine joins them)
            slot_set(range(7), 22, 24) | slot_set(range(7), 0, 2),
            [
                {"begintime": "00:00", "endtime": "02:00", "weekdays": "mon-sun"},
                {"begintime": "22:00", "endtime": "24:00", "weekdays": "mon-sun"},
            ],
        ),
        (slot_set([5, 6], 0, 24), [{"weekdays": "sat,sun"}]),  # whole days: no times
    ],
)
def test_periods_of(running: set[int], bodies: list[dict[str, str]]) -> None:
    assert [p.body() for p in A.periods_of(mask_of(running))] == bodies


def test_proposal_names_never_take_a_different_stored_item() -> None:
    specs = A.periods_of(mask_of(slot_set(range(5), 8, 18)))
    name, config = A.proposal_config(specs, "UTC")
    assert name == "suggest-mon-fri-0800-1800-utc"
    assert list(config.periods) == ["suggest-mon-fri-0800-1800"]
    # The same name holding something else: the next free name, and the schedule names that one.
    clash = parse_config(
        {
            "periods": {"suggest-mon-fri-0800-1800": {"begintime": "09:00", "endtime": "17:00"}},
            "schedules": {name: {"periods": ["suggest-mon-fri-0800-1800"]}},
        }
    )
    name2, config2 = A.proposal_config(specs, "UTC", clash)
    assert name2 == "suggest-mon-fri-0800-1800-utc-2"
    assert config2.schedules[name2].periods[0].name == "suggest-mon-fri-0800-1800-2"
    # The same name holding the same item is that item.
    same_name, same = A.proposal_config(specs, "UTC", config)
    assert (same_name, same.to_dict()) == (name, config.to_dict())


def test_long_zone_names_give_a_digest_name() -> None:
    specs = A.periods_of(mask_of(slot_set(range(5), 8, 18) | slot_set([5], 9, 12)))
    name, config = A.proposal_config(specs, "America/Argentina/Buenos_Aires")
    assert name.startswith("suggest-") and len(name) == len("suggest-") + 10
    assert config.schedules[name].timezone == "America/Argentina/Buenos_Aires"


# --- step 6: the whole analysis --------------------------------------------------------------------------------


def test_weekday_office_hours_become_a_new_schedule() -> None:
    a = analyse(values(office))
    assert a.status is Status.PROPOSED and not a.existing
    assert a.schedule == "suggest-mon-fri-0800-1800-utc"
    assert a.config is not None
    assert a.config.to_dict()["periods"] == {
        "suggest-mon-fri-0800-1800": {"begintime": "08:00", "endtime": "18:00", "weekdays": "mon-fri"}
    }
    assert a.run is not None and a.run.running_hours == 50 and a.run.week_hours == 168
    assert a.confidence is not None and a.confidence.level == "high" and a.confidence.score == 1.0


@pytest.mark.parametrize(
    ("busy", "days", "status", "reason"),
    [
        (lambda t: True, 14, Status.BUSY, "busy at all hours"),
        (lambda t: False, 14, Status.IDLE, "candidate for stopping"),
        (office, 5, Status.INSUFFICIENT, "too little data"),
    ],
)
def test_no_proposal(busy: Callable[[datetime], bool], days: int, status: Status, reason: str) -> None:
    a = analyse(values(busy, days))
    assert a.status is status and reason in a.reason
    assert a.schedule is None and a.config is None


def test_no_data_at_all_is_too_little_data() -> None:
    a = analyse([HourValues(t) for t in hours()])
    assert a.status is Status.INSUFFICIENT and "0 hour(s)" in a.reason


def test_hours_without_data_count_as_not_needed() -> None:
    # Stopped by hand every night and weekend: only the working hours have data, all busy.
    vals = [v for v in values(office) if office(v.start)]
    a = analyse(vals)
    assert a.schedule == "suggest-mon-fri-0800-1800-utc"
    assert a.confidence is not None and a.confidence.data_fraction == round(100 / 336, 3)
    # The data spans Monday 2 March 08:00 to Friday 13 March 18:00 (274 hours, 1.63 weeks) and covers 100 of the
    # 336 hours: score = 1.0 (consistency) × 1.63 / 2 × 2 × 0.298.
    assert a.confidence.weeks == round(274 / 168, 2)
    assert (a.confidence.score, a.confidence.level) == (round(1.63 / 2 * 2 * 0.298, 2), "low")


STORED = parse_config(
    {
        "periods": {
            "long-office": {"begintime": "07:00", "endtime": "19:00", "weekdays": "mon-fri"},
            "short-office": {"begintime": "09:00", "endtime": "17:00", "weekdays": "mon-fri"},
            "always": {"begintime": "00:00", "endtime": "24:00"},
            "berlin-office": {"begintime": "09:00", "endtime": "19:00", "weekdays": "mon-fri"},
        },
        "schedules": {
            "long": {"periods": ["long-office"]},
            "short": {"periods": ["short-office"]},  # misses 08:00 and 17:00
            "all-week": {"periods": ["always"]},  # fits, but saves nothing
            "berlin": {"periods": ["berlin-office"], "timezone": "Europe/Berlin"},
        },
    }
)


def test_a_stored_schedule_that_fits_is_proposed() -> None:
    a = analyse(values(office), stored=STORED)
    # long (60 h) and berlin (50 h: 09-19 CET is 08-18 UTC in the reference week of 16 March) fit; the one that
    # runs least wins.
    assert (a.status, a.schedule, a.existing, a.config) == (Status.PROPOSED, "berlin", True, None)
    assert a.run is not None and a.run.running_hours == 50


def test_a_stored_schedule_that_misses_busy_hours_does_not_fit() -> None:
    only_short = parse_config({"periods": {"p": {"begintime": "09:00", "endtime": "17:00", "weekdays": "mon-fri"}},
                               "schedules": {"short": {"periods": ["p"]}}})  # fmt: skip
    a = analyse(values(office), stored=only_short)
    assert a.schedule == "suggest-mon-fri-0800-1800-utc" and not a.existing


def test_a_stored_schedule_that_saves_much_less_does_not_fit() -> None:
    # Runs 12 h a day every day (84 h): stops 50% of the week against the new schedule's 70%, less than 80% of it.
    wide = parse_config({"periods": {"p": {"begintime": "07:00", "endtime": "19:00"}},
                         "schedules": {"wide": {"periods": ["p"]}}})  # fmt: skip
    a = analyse(values(office), stored=wide)
    assert not a.existing


def test_irregular_weeks_lower_the_confidence() -> None:
    # Week 1 busy 08-18 on weekdays, week 2 busy 12-22: the proposal covers both, but each needed hour was busy
    # in only some of the weeks.
    def busy(t: datetime) -> bool:
        first = t < END - timedelta(days=7)
        return office(t, begin=8 if first else 12, end=18 if first else 22)

    a = analyse(values(busy))
    assert a.schedule == "suggest-mon-fri-0800-2200-utc"
    assert a.confidence is not None
    # 70 needed slots seen twice each; 2 × 50 busy observations out of 140.
    assert a.confidence.consistency == round(100 / 140, 3)
    assert (a.confidence.score, a.confidence.level) == (0.71, "medium")


def test_monthly_savings_from_first_principles() -> None:
    # 118 of 168 hours stopped, 730 hours a month, $0.0832 an hour.
    expected = (Decimal(730) * Decimal(118) / Decimal(168) * Decimal("0.0832")).quantize(Decimal("0.01"))
    assert A.monthly_savings(118 / 168, Decimal("0.0832")) == expected == Decimal("42.66")
    assert A.monthly_savings(0.5, None) is None


def test_week_start() -> None:
    assert A.week_start(END, UTC_ZONE) == END
    assert A.week_start(END + H, UTC_ZONE) == END + timedelta(days=7)
    berlin = ZoneInfo("Europe/Berlin")
    # 16 March 00:00 UTC is 01:00 in Berlin: the next Monday is 23 March, whose week has the change to summer
    # time (167 hours), so the week after is taken.
    assert A.week_start(END, berlin) == datetime(2026, 3, 29, 22, tzinfo=UTC)  # Monday 30 March 00:00 CEST
    assert A.week_start(END - timedelta(days=7), berlin) == datetime(2026, 3, 15, 23, tzinfo=UTC)  # 16 March CET


# --- properties ---------------------------------------------------------------------------------------------------

ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "America/New_York"]
# Windows ending on a Monday, some just after a DST change of one of the zones.
ENDS = [END, datetime(2026, 3, 30, tzinfo=UTC), datetime(2026, 4, 6, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    zone=st.sampled_from(ZONES),
    end=st.sampled_from(ENDS),
    busy=st.sets(st.integers(0, 14 * 24 - 1), min_size=1, max_size=120),
    missing=st.sets(st.integers(0, 14 * 24 - 1), max_size=100),
)
def test_the_proposal_runs_at_every_busy_hour(zone: str, end: datetime, busy: set[int], missing: set[int]) -> None:
    times = hours(14, end)
    vals = [
        HourValues(t, cpu=None if i in missing and i not in busy else (80.0 if i in busy else 0.5))
        for i, t in enumerate(times)
    ]
    tz = ZoneInfo(zone)
    a = A.analyse(vals, analysed_hours=336, timezone=zone, reference=A.week_start(end, tz))
    if a.status is not Status.PROPOSED:
        # No proposal only when the running mask is full, or nothing at all was busy in enough data.
        assert a.status in (Status.BUSY, Status.INSUFFICIENT)
        return
    assert a.config is not None and a.schedule is not None
    ev = Evaluator.from_config(a.config, a.schedule)
    running = ev.running(times[0] - timedelta(days=1), end + timedelta(days=1))
    for i in busy:
        s, e = times[i], times[i] + H
        assert any(rs <= s and e <= re for rs, re in running), (zone, times[i])
    # Every stop the schedule makes is at least MIN_GAP_HOURS long (shorter gaps are run through).
    assert a.run is not None
    stopped = [not m for m in a.run.mask]
    doubled = stopped + stopped
    for i in range(A.HOURS_PER_WEEK):
        if stopped[i] and not doubled[i - 1 + A.HOURS_PER_WEEK]:
            assert all(doubled[i : i + A.MIN_GAP_HOURS]), (zone, i)


@settings(max_examples=60, deadline=None)
@given(needed=st.sets(st.integers(0, 167)), gap=st.integers(1, 6))
def test_fill_gaps_only_adds_and_leaves_no_short_gap(needed: set[int], gap: int) -> None:
    filled = A.fill_gaps(mask_of(needed), gap)
    assert all(filled[s] for s in needed)
    if needed and len(needed) < 168:
        runs = _idle_runs(filled)
        assert all(length >= gap for length in runs)


def _idle_runs(mask: A.Mask) -> list[int]:
    if all(mask) or not any(mask):
        return []
    start = mask.index(True)
    rotated = mask[start:] + mask[:start]
    runs, n = [], 0
    for m in rotated:
        if m:
            if n:
                runs.append(n)
            n = 0
        else:
            n += 1
    if n:
        runs.append(n)
    return runs


@settings(max_examples=60, deadline=None)
@given(running=st.sets(st.integers(0, 167), min_size=1, max_size=167))
def test_periods_reproduce_the_mask_in_the_engine(running: set[int]) -> None:
    mask = mask_of(running)
    name, config = A.proposal_config(A.periods_of(mask), "UTC")
    run = A.week_run(Evaluator.from_config(config, name), END, UTC_ZONE)
    assert run.mask == mask
    assert run.running_hours == len(running)


# --- CloudWatch reads ------------------------------------------------------------------------------------------


def _candidates(n: int, service: str = "ec2") -> list[M.Candidate]:
    return [
        M.Candidate(service, "eu-west-1", "1", f"i-{i:017x}", f"arn:aws:ec2:eu-west-1:1:instance/{i}", "t3.micro", None)
        for i in range(n)
    ]


def test_metric_reads_are_batched_at_500_queries_and_follow_pages() -> None:
    cw = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    found = _candidates(170)  # 510 queries: 166 resources (498 queries) then 4
    start, end = END - timedelta(days=14), END
    t0 = start + H
    with Stubber(cw) as stub:
        # First batch: two pages; the same query's points arrive on both.
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "q0_0", "Timestamps": [t0], "Values": [42.0], "StatusCode": "PartialData"}],
             "NextToken": "page2"},
        )  # fmt: skip
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "q0_0", "Timestamps": [t0 + H], "Values": [1.0], "StatusCode": "Complete"},
                                   {"Id": "q0_1", "Timestamps": [t0], "Values": [100.0], "StatusCode": "Complete"},
                                   {"Id": "q0_2", "Timestamps": [t0], "Values": [50.0], "StatusCode": "Complete"}]},
        )  # fmt: skip
        # Second batch fails: only its four resources fail.
        stub.add_client_error("get_metric_data", "Throttling", "Rate exceeded")
        got, errors = M.hourly_values(cw, found, start, end)
        stub.assert_no_pending_responses()
    assert sorted(errors) == sorted(c.arn for c in found[166:])
    assert all(e == "Throttling: Rate exceeded" for e in errors.values())
    assert len(got) == 166
    assert got[found[0].arn] == [HourValues(t0, 42.0, 150.0, None), HourValues(t0 + H, 1.0, None, None)]
    assert got[found[1].arn] == []


def test_metric_queries_name_each_resource() -> None:
    cw = boto3.client("cloudwatch", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    rds = M.Candidate("rds", "eu-west-1", "1", "orders", "arn:aws:rds:eu-west-1:1:db:orders", "db.t3.micro", None)
    start, end = END - timedelta(days=7), END
    expected = {
        "MetricDataQueries": [
            {"Id": f"q0_{j}", "ReturnData": True,
             "MetricStat": {"Metric": {"Namespace": "AWS/RDS", "MetricName": name,
                                       "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders"}]},
                            "Period": 3600, "Stat": "Maximum"}}
            for j, name in enumerate(("CPUUtilization", "DatabaseConnections"))
        ],
        "StartTime": start, "EndTime": end, "ScanBy": "TimestampAscending",
    }  # fmt: skip
    with Stubber(cw) as stub:
        stub.add_response("get_metric_data", {"MetricDataResults": []}, expected)
        got, errors = M.hourly_values(cw, [rds], start, end)
    assert got == {rds.arn: []} and errors == {}


# --- the command's refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        (["--days", "0"], "--days", "'0'"),
        (["--days", "1000"], "--days", "'1000'"),
        (["--days", "6"], "--days", "'6'"),
        (["--regions", "moon-1"], "--regions", "'moon-1'"),
        (["--regions", "eu-west-1,EU WEST"], "--regions", "'EU WEST'"),
        (["--regions", " , "], "--regions", "' , '"),
        (["--services", "ec2,lambda"], "--services", "'lambda'"),
        (["--timezone", "Mars/Base"], "--timezone", "'Mars/Base'"),
        (["--cpu-below", "nan"], "--cpu-below", "'nan'"),
        (["--network-below", "-1"], "--network-below", "'-1.0'"),
        (["--at", "yesterday"], "--at", "'yesterday'"),
        (["--tag-key", "aws:x"], "--tag-key", "'aws:x'"),
        (["--apply"], "--yes", "--json"),
    ],
)
def test_bad_input_is_refused_before_any_aws_call(
    run: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, args: list[str], field: str, value: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: any AWS call would fail, exit 1
    res = run("suggest", "--json", *args)
    assert res.code == 2, res
    body = res.json()
    assert field in body["error"] and value in body["error"]


def test_a_days_that_is_not_a_number_is_usage_error(run: Callable[..., Result]) -> None:
    res = run("suggest", "--days", "two")
    assert res.code == 2 and "--days" in res.err
