"""The AWS Price List Query API (``pricing:GetProducts``, served from us-east-1): OnDemand terms only, with the
filters of :func:`ec2_filters` and :func:`rds_filters` (or those of the service module a
:data:`.prices.PRICE_LISTS` entry names); RDS-family engines in the price list that :func:`rds_service_code` names
(Neptune and DocumentDB have their own)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from scheduler.services.price_list import PriceList, is_on_demand, lowest_rate, on_demand_rate
from scheduler.services.pricing import IO_OPTIMIZED_STORAGE, PriceQuery

from .prices import RDS_OWN_PRICE_LISTS, price_list

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
