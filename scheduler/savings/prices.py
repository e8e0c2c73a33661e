"""Hourly on-demand prices: a prices file, a local cache and the AWS Price List Query API.

Where a price comes from, in order:

1. ``--prices FILE`` (SPEC §3: CSV ``service,region,type,hourly_usd`` or a JSON list of those objects). It overrides
   the API and fills its gaps. ``region`` may be ``*`` (any region). For RDS, ``type`` is the DB instance class; a
   class with the suffix ``:multi-az`` is the Multi-AZ rate. Without one, a Multi-AZ DB instance is priced at twice
   the file's rate (one primary and one standby, which is how AWS prices Multi-AZ instance deployments) and a
   Multi-AZ DB cluster at three times (a writer and two readable standbys). A Neptune or DocumentDB instance class
   may carry the suffix ``:neptune`` or ``:docdb`` (their price lists differ from RDS's); without such a row the
   plain class's row is used. ASGs look for ``asg`` rows first, then ``ec2`` rows; EKS node groups ``eks`` rows,
   then ``ec2`` rows. A price list of :data:`PRICE_LISTS` has rows of its own types: ECS on Fargate its units
   (``fargate-vcpu``, ``fargate-gb``, ``fargate-arm-vcpu``, ``fargate-arm-gb``, each per vCPU-hour or GB-hour), a
   ``redshift`` row one node of a node type (a cluster costs its number of nodes times that), a ``sagemaker`` row
   one notebook instance of an ML instance type (``ml.t3.medium``).
2. The local cache (``ISCHED_PRICE_CACHE``, else ``<user cache dir>/isched/prices.json``): answers from the API,
   kept for 7 days.
3. The Price List Query API (``pricing:GetProducts``, served from us-east-1), with the filters of
   :func:`ec2_filters` and :func:`rds_filters` (or those of the service module a :data:`PRICE_LISTS` entry names),
   OnDemand terms only; RDS-family engines in the price list that :func:`rds_service_code` names (Neptune and
   DocumentDB have their own).

A price that none of them knows is *unknown* (``None``), never zero: reports count what is unpriced instead of
under-reporting it as a saving of $0.
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.aws.session import is_region
from scheduler.engine.errors import Issue, path_key, quote
from scheduler.engine.instants import instant_text, parse_instant
from scheduler.services.price_list import PriceList, is_on_demand, lowest_rate, on_demand_rate
from scheduler.services.pricing import IO_OPTIMIZED_STORAGE, PriceQuery
from scheduler.services.registry import SERVICES

log = logging.getLogger(__name__)

PRICE_CACHE_ENV = "ISCHED_PRICE_CACHE"
PRICE_TTL = timedelta(days=7)
# The Price List Query API has endpoints in us-east-1, eu-central-1 and ap-south-1 only; all serve every region.
PRICING_REGION = "us-east-1"
PAGE_SIZE = 100  # GetProducts MaxResults maximum

# Region codes as the price list names them in its ``location`` attribute (the API's own names, not the console's
# newer "Europe (...)" spelling). Used when a product lacks ``regionCode`` and in human-readable notes.
REGION_LOCATIONS: dict[str, str] = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "af-south-1": "Africa (Cape Town)",
    "ap-east-1": "Asia Pacific (Hong Kong)",
    "ap-east-2": "Asia Pacific (Taipei)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-south-2": "Asia Pacific (Hyderabad)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-southeast-3": "Asia Pacific (Jakarta)",
    "ap-southeast-4": "Asia Pacific (Melbourne)",
    "ap-southeast-5": "Asia Pacific (Malaysia)",
    "ap-southeast-7": "Asia Pacific (Thailand)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-northeast-2": "Asia Pacific (Seoul)",
    "ap-northeast-3": "Asia Pacific (Osaka)",
    "ca-central-1": "Canada (Central)",
    "ca-west-1": "Canada West (Calgary)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-central-2": "EU (Zurich)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-south-1": "EU (Milan)",
    "eu-south-2": "EU (Spain)",
    "eu-north-1": "EU (Stockholm)",
    "il-central-1": "Israel (Tel Aviv)",
    "me-south-1": "Middle East (Bahrain)",
    "me-central-1": "Middle East (UAE)",
    "mx-central-1": "Mexico (Central)",
    "sa-east-1": "South America (Sao Paulo)",
    "us-gov-east-1": "AWS GovCloud (US-East)",
    "us-gov-west-1": "AWS GovCloud (US-West)",
}

# EC2 ``PlatformDetails`` -> price list (operatingSystem, preInstalledSw, licenseModel). The price list splits an
# AMI's billing product into these three attributes; the values are the price list's own.
_NO_LICENSE = "No License required"
_BYOL = "Bring your own license"
EC2_PLATFORMS: dict[str, tuple[str, str, str]] = {
    "linux/unix": ("Linux", "NA", _NO_LICENSE),
    "red hat enterprise linux": ("RHEL", "NA", _NO_LICENSE),
    "red hat byol linux": ("RHEL", "NA", _BYOL),
    "red hat enterprise linux with ha": ("Red Hat Enterprise Linux with HA", "NA", _NO_LICENSE),
    "red hat enterprise linux with sql server standard and ha": (
        "Red Hat Enterprise Linux with HA",
        "SQL Std",
        _NO_LICENSE,
    ),
    "red hat enterprise linux with sql server enterprise and ha": (
        "Red Hat Enterprise Linux with HA",
        "SQL Ent",
        _NO_LICENSE,
    ),
    "red hat enterprise linux with sql server standard": ("RHEL", "SQL Std", _NO_LICENSE),
    "red hat enterprise linux with sql server web": ("RHEL", "SQL Web", _NO_LICENSE),
    "red hat enterprise linux with sql server enterprise": ("RHEL", "SQL Ent", _NO_LICENSE),
    "sql server enterprise": ("Linux", "SQL Ent", _NO_LICENSE),
    "sql server standard": ("Linux", "SQL Std", _NO_LICENSE),
    "sql server web": ("Linux", "SQL Web", _NO_LICENSE),
    "suse linux": ("SUSE", "NA", _NO_LICENSE),
    "ubuntu pro": ("Ubuntu Pro", "NA", _NO_LICENSE),
    "windows": ("Windows", "NA", _NO_LICENSE),
    "windows byol": ("Windows", "NA", _BYOL),
    "windows with sql server enterprise": ("Windows", "SQL Ent", _NO_LICENSE),
    "windows with sql server standard": ("Windows", "SQL Std", _NO_LICENSE),
    "windows with sql server web": ("Windows", "SQL Web", _NO_LICENSE),
}
EC2_TENANCY = {"default": "Shared", "dedicated": "Dedicated", "host": "Host"}

# RDS ``Engine`` -> price list (databaseEngine, databaseEdition or None).
RDS_ENGINES: dict[str, tuple[str, str | None]] = {
    "mysql": ("MySQL", None),
    "postgres": ("PostgreSQL", None),
    "mariadb": ("MariaDB", None),
    "aurora": ("Aurora MySQL", None),
    "aurora-mysql": ("Aurora MySQL", None),
    "aurora-postgresql": ("Aurora PostgreSQL", None),
    "oracle-ee": ("Oracle", "Enterprise"),
    "oracle-ee-cdb": ("Oracle", "Enterprise"),
    "oracle-se2": ("Oracle", "Standard Two"),
    "oracle-se2-cdb": ("Oracle", "Standard Two"),
    "sqlserver-ee": ("SQL Server", "Enterprise"),
    "sqlserver-se": ("SQL Server", "Standard"),
    "sqlserver-ex": ("SQL Server", "Express"),
    "sqlserver-web": ("SQL Server", "Web"),
    "db2-se": ("Db2", "Standard"),
    "db2-ae": ("Db2", "Advanced"),
}
RDS_LICENSES = {
    "license-included": "License included",
    "bring-your-own-license": "Bring your own license",
    "marketplace-license": "License included",
}
RDS_DEPLOYMENTS = {
    "single-az": "Single-AZ",
    "multi-az": "Multi-AZ",
    "multi-az-cluster": "Multi-AZ (readable standbys)",
}
# Without a file row for the deployment itself: how many instance-hours of the class a deployment bills.
DEPLOYMENT_FACTOR = {"single-az": 1, "multi-az": 2, "multi-az-cluster": 3}
# RDS ``Engine`` values billed in a price list of their own (service code), with one product per instance class
# (attributes instanceType and productFamily "Database Instance"; no databaseEngine, no deploymentOption). Every
# other engine is in AmazonRDS.
RDS_OWN_PRICE_LISTS = {"neptune": "AmazonNeptune", "docdb": "AmazonDocDB"}

# Price lists beyond EC2's and RDS's, by the name a PriceQuery's ``service`` gives: the module that describes each
# (its ``PRICE_LIST``: GetProducts service code, filters, how a document is chosen, the prices file's types).
PRICE_LISTS: dict[str, str] = {
    "ecs": "scheduler.services.fargate",
    "redshift": "scheduler.services.redshift",
    "sagemaker": "scheduler.services.sagemaker",
}


def price_list(name: str) -> PriceList | None:
    """The price list called ``name`` if a service module describes it (imported on first use)."""
    module = PRICE_LISTS.get(name)
    return cast(PriceList, importlib.import_module(module).PRICE_LIST) if module is not None else None


_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9-]*(\.[a-z0-9-]+)+")  # fullmatch: "$" also matches before a final "\n"
_TYPE_MAX = 64
# No on-demand instance costs anywhere near this; a larger number is a typo (or 1e30), not a price.
MAX_HOURLY_USD = Decimal(10_000)
MAX_PRICES_FILE_BYTES = 32 * 1024 * 1024
_MULTI_AZ_SUFFIX = ":multi-az"
# Suffixes a prices file's RDS type may carry: the Multi-AZ rate, or the rate in Neptune's or DocumentDB's list.
_RDS_FILE_SUFFIXES = (_MULTI_AZ_SUFFIX, *(f":{engine}" for engine in RDS_OWN_PRICE_LISTS))


@dataclass(frozen=True)
class PriceAnswer:
    hourly: Decimal | None
    source: str | None = None  # "file" | "pricing-api" | "cache"
    note: str | None = None


# --- the prices file -------------------------------------------------------------------------------------------


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


# --- the local cache -------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where isched caches prices and Cost Explorer answers: beside ``ISCHED_PRICE_CACHE`` when it is set, else the
    user's cache directory (``XDG_CACHE_HOME``, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows)."""
    override = os.environ.get(PRICE_CACHE_ENV)
    if override and override.lower() != "off":
        return Path(override).expanduser().parent
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "isched"


def price_cache_path() -> Path | None:
    """The price cache file; ``None`` when caching is off (``ISCHED_PRICE_CACHE=off``)."""
    override = os.environ.get(PRICE_CACHE_ENV)
    if override is not None and override.strip().lower() == "off":
        return None
    if override:
        return Path(override).expanduser()
    return cache_dir() / "prices.json"


class JsonCache:
    """A small JSON file of ``key -> {"at": ISO time, "value": ...}`` entries, each valid for ``ttl``.

    A cache is a convenience: a file that cannot be read or written is treated as empty, never as an error.
    """

    def __init__(self, path: Path | None, ttl: timedelta, clock: Callable[[], datetime] | None = None) -> None:
        self.path = path
        self.ttl = ttl
        self.clock = clock or (lambda: datetime.now(UTC))
        self._data: dict[str, Any] | None = None
        self._dirty = False

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.path is not None:
                with contextlib.suppress(OSError, ValueError):
                    loaded = json.loads(self.path.read_text(encoding="utf-8"))
                    if isinstance(loaded, dict) and isinstance(loaded.get("entries"), dict):
                        self._data = loaded["entries"]
        return self._data

    def get(self, key: str, ttl: timedelta | None = None) -> Any | None:
        entry = self._load().get(key)
        if not isinstance(entry, dict) or "at" not in entry:
            return None
        try:
            at = parse_instant(str(entry["at"]))
        except ValueError:
            return None
        if self.clock() - at > (ttl or self.ttl):
            return None
        return entry.get("value")

    def put(self, key: str, value: Any) -> None:
        self._load()[key] = {"at": instant_text(self.clock()), "value": value}
        self._dirty = True

    def save(self) -> None:
        if not self._dirty or self.path is None or self._data is None:
            return
        now = self.clock()
        keep = {}
        for k, v in self._data.items():
            with contextlib.suppress(KeyError, TypeError, ValueError):
                if now - parse_instant(str(v["at"])) <= max(self.ttl, PRICE_TTL):
                    keep[k] = v
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Written to a temporary file and renamed, so a concurrent reader never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".isched-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"version": 1, "entries": keep}, fh)
            os.replace(tmp, self.path)
            self._dirty = False
        except OSError as exc:
            log.warning("could not write the cache %s: %s", self.path, exc)


# --- the Price List Query API ----------------------------------------------------------------------------------


def _match(field_name: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field_name, "Value": value}


def ec2_platform(platform: str | None) -> tuple[str, str, str] | None:
    return EC2_PLATFORMS.get((platform or "Linux/UNIX").strip().lower())


def ec2_filters(query: PriceQuery, *, by_location: bool = False) -> list[dict[str, str]] | None:
    """GetProducts filters for an EC2 on-demand instance; ``None`` when the platform has no price list name."""
    platform = ec2_platform(query.platform)
    tenancy = EC2_TENANCY.get((query.tenancy or "default").lower())
    if platform is None or tenancy is None:
        return None
    os_name, software, license_model = platform
    return [
        _match("instanceType", query.type),
        _where(query.region, by_location),
        _match("operatingSystem", os_name),
        _match("tenancy", tenancy),
        _match("preInstalledSw", software),
        # "Used" is the on-demand instance itself; "UnusedCapacityReservation" and "AllocatedCapacityReservation"
        # are capacity-reservation line items of the same type.
        _match("capacitystatus", "Used"),
        _match("licenseModel", license_model),
    ]


def rds_service_code(engine: str | None) -> str:
    """The price list (GetProducts ServiceCode) an RDS-family DB instance of ``engine`` is billed in."""
    return RDS_OWN_PRICE_LISTS.get((engine or "").lower(), "AmazonRDS")


def rds_filters(query: PriceQuery, *, by_location: bool = False) -> list[dict[str, str]] | None:
    """GetProducts filters for an RDS DB instance (in :func:`rds_service_code`'s price list); ``None`` for engines
    the price list does not name."""
    if (query.engine or "").lower() in RDS_OWN_PRICE_LISTS:
        return [
            _match("instanceType", query.type),
            _where(query.region, by_location),
            _match("productFamily", "Database Instance"),
        ]
    engine = RDS_ENGINES.get((query.engine or "").lower())
    if engine is None:
        return None
    name, edition = engine
    filters = [
        _match("instanceType", query.type),
        _where(query.region, by_location),
        _match("databaseEngine", name),
        _match("productFamily", "Database Instance"),
    ]
    if not name.startswith("Aurora"):
        # Aurora instances are priced one by one whatever the cluster's AZs; the storage mode decides instead.
        deployment = RDS_DEPLOYMENTS.get(query.deployment)
        if deployment is None:
            return None
        filters.append(_match("deploymentOption", deployment))
    if edition:
        filters.append(_match("databaseEdition", edition))
    license_model = RDS_LICENSES.get((query.license_model or "").lower())
    if license_model and name in ("Oracle", "SQL Server", "Db2"):
        filters.append(_match("licenseModel", license_model))
    return filters


def _where(region: str, by_location: bool) -> dict[str, str]:
    if by_location and region in REGION_LOCATIONS:
        return _match("location", REGION_LOCATIONS[region])
    return _match("regionCode", region)


def choose_price(documents: Iterable[Mapping[str, Any]], query: PriceQuery) -> tuple[Decimal | None, str | None]:
    """The on-demand hourly rate among GetProducts documents for an EC2 or RDS-family ``query``, and a note when it
    had to choose.

    The filters usually leave exactly one product. What else may come back is sorted out here: products of another
    type or market (capacity blocks), reservations, and for Aurora, Neptune and DocumentDB the storage mode
    (Standard vs I/O-Optimized, which bill the same class at different rates).
    """
    rates: list[Decimal] = []
    for doc in documents:
        attrs = (doc.get("product") or {}).get("attributes") or {}
        if attrs.get("instanceType") not in (None, query.type) or not is_on_demand(attrs):
            continue
        by_storage = str(attrs.get("databaseEngine", "")).startswith("Aurora") or (
            (query.engine or "").lower() in RDS_OWN_PRICE_LISTS
        )
        if query.service == "rds" and by_storage and _io_optimized(attrs) != (query.storage in IO_OPTIMIZED_STORAGE):
            continue
        price = on_demand_rate(doc)
        if price is not None:
            rates.append(price)
    return lowest_rate(rates)


def _io_optimized(attrs: Mapping[str, Any]) -> bool:
    """Whether a price list product is an I/O-Optimized storage rate (usage type ``…IOOptimized…``, or a storage or
    volume type that says so)."""
    if "iooptimized" in str(attrs.get("usagetype", "")).lower():
        return True
    described = f"{attrs.get('storage', '')} {attrs.get('volumeType', '')}".lower()
    return "io optimiz" in described or "i/o-optimiz" in described or "i/o optimiz" in described


class PricingApi:
    """``pricing:GetProducts`` for EC2 and RDS, paginated; counts its requests."""

    def __init__(self, client: Any = None) -> None:
        if client is None:
            from scheduler.aws.session import client as make_client

            # Few retries: a missing endpoint or permission should fail the lookup quickly, not stall the report.
            client = make_client("pricing", region=PRICING_REGION, retries={"mode": "standard", "max_attempts": 3})
        self.client = client
        self.requests = 0

    def documents(self, service_code: str, filters: list[dict[str, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "ServiceCode": service_code,
                "Filters": filters,
                "FormatVersion": "aws_v1",
                "MaxResults": PAGE_SIZE,
            }
            if token:
                params["NextToken"] = token
            self.requests += 1
            page = self.client.get_products(**params)
            for item in page.get("PriceList", []):
                out.append(json.loads(item) if isinstance(item, str) else dict(item))
            token = page.get("NextToken")
            if not token:
                return out

    def hourly(self, query: PriceQuery) -> tuple[Decimal | None, str | None]:
        """The on-demand rate of ``query`` and a note; raises botocore errors when the API cannot be asked."""
        listed = price_list(query.service)
        if listed is not None:
            return self._listed(listed, query)
        make = ec2_filters if query.service == "ec2" else rds_filters
        code = "AmazonEC2" if query.service == "ec2" else rds_service_code(query.engine)
        filters = make(query)
        if filters is None:
            what = f"platform '{query.platform}'" if query.service == "ec2" else f"engine '{query.engine}'"
            return None, f"no price list name is known for {what}"
        price, note = choose_price(self.documents(code, filters), query)
        if price is None and query.region in REGION_LOCATIONS:
            # Older price list data carries the location name but not regionCode.
            located = make(query, by_location=True)
            if located is not None:
                price, note = choose_price(self.documents(code, located), query)
        if price is None:
            return None, f"the Price List API has no on-demand rate for {query.describe()}"
        return price, note

    def _listed(self, listed: PriceList, query: PriceQuery) -> tuple[Decimal | None, str | None]:
        """:meth:`hourly` for a price list a service module describes."""
        for by_location in (False, True):
            if by_location and query.region not in REGION_LOCATIONS:
                break
            filters = listed.filters(query, _where(query.region, by_location))
            if filters is None:
                return None, f"no price list product is known for {query.describe()}"
            price, note = listed.choose(self.documents(listed.service_code, filters), query)
            if price is not None:
                return price, note
        return None, f"the Price List API has no on-demand rate for {query.describe()}"


class PriceBook:
    """Prices for a report: the file first, then the cache, then the Price List API (when allowed).

    The first API failure (no permission, no network, an endpoint without the Pricing API) turns the API off for
    the rest of the run, with one note saying why, instead of failing every lookup the same way.
    """

    def __init__(
        self,
        table: PriceTable | None = None,
        *,
        use_api: bool = True,
        api: PricingApi | None = None,
        cache: JsonCache | None = None,
    ) -> None:
        self.table = table or PriceTable()
        self.use_api = use_api
        self._api = api
        self.cache = cache if cache is not None else JsonCache(price_cache_path(), PRICE_TTL)
        self.api_error: str | None = None
        self._memo: dict[PriceQuery, PriceAnswer] = {}

    @property
    def api_requests(self) -> int:
        return self._api.requests if self._api is not None else 0

    def price(self, query: PriceQuery) -> PriceAnswer:
        got = self._memo.get(query)
        if got is None:
            got = self._memo[query] = self._resolve(query)
        return got

    def _resolve(self, query: PriceQuery) -> PriceAnswer:
        from_file = self.table.lookup(query)
        if from_file is not None:
            return from_file
        key = query.cache_key()
        cached = self.cache.get(key)
        if isinstance(cached, dict):
            usd = cached.get("usd")
            return PriceAnswer(Decimal(usd) if usd is not None else None, "cache", cached.get("note"))
        if not self.use_api:
            return PriceAnswer(None, None, f"no price for {query.describe()} in the prices file")
        if self.api_error is not None:
            return PriceAnswer(None, None, f"no price for {query.describe()}: {self.api_error}")
        try:
            if self._api is None:
                self._api = PricingApi()
            price, note = self._api.hourly(query)
        except (ClientError, BotoCoreError) as exc:
            self.api_error = f"the Price List API could not be asked ({_short_error(exc)})"
            return PriceAnswer(None, None, f"no price for {query.describe()}: {self.api_error}")
        # Misses are cached too: asking again within the week would only repeat the same empty answer.
        self.cache.put(key, {"usd": str(price) if price is not None else None, "note": note})
        return PriceAnswer(price, "pricing-api" if price is not None else None, note)

    def save(self) -> None:
        self.cache.save()


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = err.get("Code") or "error"
        message = str(err.get("Message") or "").strip().splitlines()
        return f"{code}: {message[0][:160]}" if message and not message[0].startswith("<") else str(code)
    return str(exc)[:200]
