"""The prices file (``--prices FILE``, SPEC §3): CSV ``service,region,type,hourly_usd`` or a JSON list of those objects.

It overrides the Price List API and fills its gaps. ``region`` may be ``*`` (any region). For RDS, ``type`` is the DB
instance class; a class with the suffix ``:multi-az`` is the Multi-AZ rate. Without one, a Multi-AZ DB instance is
priced at twice the file's rate (one primary and one standby, which is how AWS prices Multi-AZ instance deployments)
and a Multi-AZ DB cluster at three times (a writer and two readable standbys). A Neptune or DocumentDB instance class
may carry the suffix ``:neptune`` or ``:docdb`` (their price lists differ from RDS's); without such a row the plain
class's row is used. ASGs look for ``asg`` rows first, then ``ec2`` rows; EKS node groups ``eks`` rows, then ``ec2``
rows. A price list of :data:`.prices.PRICE_LISTS` has rows of its own types: ECS on Fargate its units
(``fargate-vcpu``, ``fargate-gb``, ``fargate-arm-vcpu``, ``fargate-arm-gb``, each per vCPU-hour or GB-hour), a
``redshift`` row one node of a node type (a cluster costs its number of nodes times that), a ``sagemaker`` row one
notebook instance of an ML instance type (``ml.t3.medium``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from scheduler.aws.session import is_region
from scheduler.engine.errors import Issue, path_key, quote
from scheduler.services.pricing import PriceQuery
from scheduler.services.registry import SERVICES

from .prices import PRICE_LISTS, RDS_OWN_PRICE_LISTS, PriceAnswer, price_list

# Without a file row for the deployment itself: how many instance-hours of the class a deployment bills.
DEPLOYMENT_FACTOR = {"single-az": 1, "multi-az": 2, "multi-az-cluster": 3}

_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+")  # fullmatch: "$" also matches before a final "\n"
_TYPE_MAX = 64
# No on-demand instance costs anywhere near this; a larger number is a typo (or 1e30), not a price.
MAX_HOURLY_USD = Decimal(10_000)
MAX_PRICES_FILE_BYTES = 32 * 1024 * 1024
_MULTI_AZ_SUFFIX = ":multi-az"
# Suffixes a prices file's RDS type may carry: the Multi-AZ rate, or the rate in Neptune's or DocumentDB's list.
_RDS_FILE_SUFFIXES = (_MULTI_AZ_SUFFIX, *(f":{engine}" for engine in RDS_OWN_PRICE_LISTS))


class PricesFileError(ValueError):
    """A prices file with problems: every issue names the line (or JSON item) and field, and the value."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


@dataclass
class PriceTable:
    """Prices from a file, keyed by (service, region or ``*``, type)."""

    rows: dict[tuple[str, str, str], Decimal] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def _get(self, service: str, region: str, type_: str) -> Decimal | None:
        hit = self.rows.get((service, region, type_))
        return hit if hit is not None else self.rows.get((service, "*", type_))

    def lookup(self, query: PriceQuery) -> PriceAnswer | None:
        if query.service in PRICE_LISTS:
            own = self._get(query.service, query.region, query.type)
            return PriceAnswer(own, "file") if own is not None else None
        if query.service == "rds":
            engine = (query.engine or "").lower()
            if engine in RDS_OWN_PRICE_LISTS:
                own = self._get("rds", query.region, f"{query.type}:{engine}")
                if own is not None:
                    return PriceAnswer(own, "file")
            if query.deployment != "single-az":
                exact = self._get("rds", query.region, query.type + _MULTI_AZ_SUFFIX)
                if exact is not None:
                    return PriceAnswer(exact, "file")
            base = self._get("rds", query.region, query.type)
            if base is None:
                return None
            factor = DEPLOYMENT_FACTOR.get(query.deployment, 1)
            if factor == 1:
                return PriceAnswer(base, "file")
            return PriceAnswer(
                base * factor,
                "file",
                f"{query.deployment}: {factor} × the file's rate for {query.type} "
                f"(add a '{query.type}{_MULTI_AZ_SUFFIX}' row for the exact rate)",
            )
        for service in (query.origin, "ec2") if query.origin else ("ec2",):
            hit = self._get(service, query.region, query.type)
            if hit is not None:
                return PriceAnswer(hit, "file")
        return None


FILE_FIELDS = ("service", "region", "type", "hourly_usd")


def parse_prices(text: str, name: str = "prices") -> PriceTable:
    """Parses a prices file's text (CSV, or JSON when it starts with ``[``); raises :class:`PricesFileError`."""
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith(("[", "{")):
        return _parse_json(stripped)
    return _parse_csv(stripped)


def load_prices_file(path: str) -> PriceTable:
    shown = quote(path, 200)  # a file name is shown whole (the OS bounds it), its control characters escaped
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(MAX_PRICES_FILE_BYTES + 1)
        if len(data) > MAX_PRICES_FILE_BYTES:
            limit = MAX_PRICES_FILE_BYTES // (1024 * 1024)
            raise PricesFileError([Issue("--prices", f"{shown} is larger than {limit} MiB: not a prices file")])
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise PricesFileError([Issue("--prices", f"{shown} does not exist")]) from None
    except IsADirectoryError:
        raise PricesFileError([Issue("--prices", f"{shown} is a directory, not a prices file")]) from None
    except UnicodeDecodeError:
        raise PricesFileError([Issue("--prices", f"{shown} is not UTF-8 text")]) from None
    except ValueError:  # a NUL byte in the path
        raise PricesFileError([Issue("--prices", f"{shown} is not a file name")]) from None
    except OSError as exc:
        raise PricesFileError([Issue("--prices", f"{shown} cannot be read: {exc.strerror}")]) from None
    return parse_prices(text, path)


def _parse_csv(text: str) -> PriceTable:
    # Lines starting with # are comments (where a price came from), before the header too.
    lines: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#"):
                lines.append((reader.line_num, row))
    except csv.Error as exc:  # e.g. a field longer than the csv module's limit
        raise PricesFileError([Issue(f"line {reader.line_num}", f"not valid CSV: {str(exc)[:120]}")]) from None
    if not lines:
        raise PricesFileError([Issue("line 1", f"the file is empty (expected the header {','.join(FILE_FIELDS)})")])
    header_line, header = lines[0]
    names = [h.strip().lower() for h in header]
    issues: list[Issue] = []
    missing = [f for f in FILE_FIELDS if f not in names]
    unknown = [h for h in names if h not in FILE_FIELDS]
    if missing or unknown:
        got = quote(",".join(header))
        what = []
        if missing:
            what.append(f"missing {', '.join(missing)}")
        if unknown:
            what.append(f"unknown column {', '.join(quote(u, 32) for u in unknown[:5])}")
        where = f"line {header_line}"
        raise PricesFileError([Issue(where, f"header {got} is not {','.join(FILE_FIELDS)} ({'; '.join(what)})")])
    entries: list[tuple[str, dict[str, Any]]] = []
    for number, row in lines[1:]:
        if len(row) != len(names):
            issues.append(Issue(f"line {number}", f"{len(row)} fields, expected {len(names)} ({','.join(names)})"))
            continue
        entries.append((f"line {number}", dict(zip(names, (c.strip() for c in row), strict=True))))
    return _table(entries, issues)


def _parse_json(text: str) -> PriceTable:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PricesFileError([Issue(f"line {exc.lineno}", f"not valid JSON: {exc.msg}")]) from None
    except (ValueError, RecursionError) as exc:  # a number of thousands of digits; nesting thousands deep
        what = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:120]
        raise PricesFileError([Issue("file", f"not valid JSON: {what}")]) from None
    if not isinstance(data, list):
        raise PricesFileError([Issue("", f"a JSON prices file must be a list of objects ({', '.join(FILE_FIELDS)})")])
    issues: list[Issue] = []
    entries: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(data):
        where = f"[{i}]"
        if not isinstance(item, dict):
            issues.append(Issue(where, f"{quote(item)} is not an object with {', '.join(FILE_FIELDS)}"))
            continue
        unknown = [k for k in item if k not in FILE_FIELDS]
        for k in unknown[:5]:
            issues.append(Issue(f"{where}.{path_key(k)}", f"unknown field (known: {', '.join(FILE_FIELDS)})"))
        entries.append((where, item))
    return _table(entries, issues)


def _table(entries: Iterable[tuple[str, Mapping[str, Any]]], issues: list[Issue]) -> PriceTable:
    table = PriceTable()
    seen: dict[tuple[str, str, str], str] = {}
    for where, item in entries:

        def path(name: str, where: str = where) -> str:
            # JSON items read as "[0].type"; CSV lines as "line 3: type".
            return f"{where}.{name}" if where.startswith("[") else f"{where}: {name}"

        values = {}
        ok = True
        for f in FILE_FIELDS:
            if f not in item or item[f] is None or (isinstance(item[f], str) and not item[f].strip()):
                issues.append(Issue(path(f), "missing"))
                ok = False
            else:
                values[f] = item[f]
        if not ok:
            continue
        service = str(values["service"]).strip().lower()
        region = str(values["region"]).strip().lower()
        type_ = str(values["type"]).strip()
        if service not in SERVICES:
            issues.append(
                Issue(path("service"), f"{quote(values['service'])} is not a service (one of {', '.join(SERVICES)})")
            )
            ok = False
        if region != "*" and not is_region(region):
            issues.append(
                Issue(path("region"), f"{quote(values['region'])} is not a region name (e.g. eu-west-1) or *")
            )
            ok = False
        ok = _check_type(service, type_, path("type"), issues) and ok
        price = _price(values["hourly_usd"], path("hourly_usd"), issues)
        if not ok or price is None:
            continue
        key = (service, region, type_)
        if key in seen:
            issues.append(
                Issue(path("type"), f"{quote(type_)} in {region} for {service} is already priced at {seen[key]}")
            )
            continue
        seen[key] = where
        table.rows[key] = price
    if issues:
        raise PricesFileError(issues)
    return table


def type_problem(service: str, type_: str, *, file_row: bool = False) -> str | None:
    """Why ``type_`` is not an instance type (EC2, ASG) or DB instance class (RDS), or ``None`` when it is one."""
    listed = price_list(service)
    if listed is not None:
        return listed.type_problem(type_)
    suffix = next((s for s in _RDS_FILE_SUFFIXES if type_.endswith(s)), "") if file_row else ""
    base = type_[: -len(suffix)] if suffix else type_
    ok = len(base) <= _TYPE_MAX and _TYPE_RE.fullmatch(base) is not None
    if service == "rds":
        if base.startswith("db.") and ok:
            return None
        example = "db.t3.medium, db.r6g.large:multi-az or db.r5.large:neptune" if file_row else "db.t3.medium"
        return f"{quote(type_)} is not a DB instance class (e.g. {example})"
    if base == type_ and ok and not type_.startswith("db."):
        return None
    return f"{quote(type_)} is not an EC2 instance type (e.g. t3.large)"


def _check_type(service: str, type_: str, path: str, issues: list[Issue]) -> bool:
    problem = type_problem(service, type_, file_row=True)
    if problem:
        issues.append(Issue(path, problem))
    return problem is None


def _price(value: Any, path: str, issues: list[Issue]) -> Decimal | None:
    """An hourly price: a finite number from 0 up to :data:`MAX_HOURLY_USD` (not NaN, not infinite, not 1e30)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        issues.append(Issue(path, f"{quote(value)} is not a price in USD per hour (e.g. 0.0832)"))
        return None
    try:
        text = str(value).strip().lstrip("$")
        if len(text) > 64:
            raise InvalidOperation
        price = Decimal(text)
    except (InvalidOperation, ValueError):
        issues.append(Issue(path, f"{quote(value)} is not a price in USD per hour (e.g. 0.0832)"))
        return None
    if not price.is_finite() or price < 0:
        issues.append(Issue(path, f"{quote(value)} is not a price in USD per hour (a number >= 0)"))
        return None
    if price > MAX_HOURLY_USD:
        issues.append(
            Issue(path, f"{quote(value)} is not a price in USD per hour (at most {MAX_HOURLY_USD:,} USD per hour)")
        )
        return None
    return price
