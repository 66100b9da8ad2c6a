"""Cost of a call from the price table in data/prices.yaml, when the provider does not report it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

PRICES_FILE = Path(__file__).resolve().parents[2] / "data" / "prices.yaml"


@lru_cache(maxsize=4)
def load_prices(path: str = str(PRICES_FILE)) -> dict[str, tuple[float, float]]:
    """Model id → (USD per 1M input tokens, USD per 1M output tokens)."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {model: (float(p["input"]), float(p["output"])) for model, p in raw.items()}


def price_for(model: str | None) -> tuple[float, float] | None:
    if not model:
        return None
    prices = load_prices()
    base = model.split(":", 1)[0]     # "org/m:cheapest" is priced as "org/m"
    return prices.get(model) or prices.get(base)


def estimate_cost(model: str | None, tokens_in: int | None, tokens_out: int | None) -> float | None:
    price = price_for(model)
    if price is None or tokens_in is None or tokens_out is None:
        return None
    return (tokens_in * price[0] + tokens_out * price[1]) / 1_000_000
