"""Prices for a report: the prices file first, then the local cache, then the Price List API (when allowed)."""

from __future__ import annotations

from decimal import Decimal

from botocore.exceptions import BotoCoreError, ClientError

from scheduler.services.pricing import PriceQuery

from .price_api import PricingApi
from .price_cache import PRICE_TTL, JsonCache, price_cache_path
from .price_file import PriceTable
from .prices import PriceAnswer


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
