"""Where a model's price comes from: the config, litellm's bundled price map, or nowhere.

``routing.tiers.<tier>.price`` (USD per million input/output tokens) wins: it is what the
user says they pay. Otherwise litellm's local price map is used when litellm is installed
(read from the JSON file its wheel ships, which is exactly what litellm loads with
``LITELLM_LOCAL_MODEL_COST_MAP=True``; importing litellm itself takes seconds). No price
is ever guessed: an unknown price is reported as unknown.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import attrs

from nanofolks_router.tiers import TierTable

_BUNDLED_MAP = "model_prices_and_context_window_backup.json"


@attrs.frozen(kw_only=True)
class Price:
    """USD per million tokens and where that figure comes from."""

    input: float
    output: float
    source: str  # "config routing.tiers.<tier>.price" or "litellm price map (<entry>)"

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1_000_000


@lru_cache(maxsize=1)
def litellm_price_table() -> dict[str, Any] | None:
    """litellm's price map, or None when litellm is not installed."""
    loaded = sys.modules.get("litellm")
    if loaded is not None and isinstance(getattr(loaded, "model_cost", None), dict):
        return loaded.model_cost
    spec = importlib.util.find_spec("litellm")
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        bundled = Path(location) / _BUNDLED_MAP
        if bundled.is_file():
            return json.loads(bundled.read_text(encoding="utf-8"))
    # A litellm without the bundled file: let it load its own map, offline.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm.model_cost


def litellm_price(model: str) -> Price | None:
    """The price of ``model`` in litellm's map: the full name, then without provider prefixes."""
    table = litellm_price_table()
    if table is None:
        return None
    parts = model.split("/")
    for start in range(len(parts)):
        key = "/".join(parts[start:])
        entry = table.get(key)
        if not isinstance(entry, dict):
            continue
        per_input, per_output = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if per_input is None or per_output is None:
            continue
        return Price(
            input=float(per_input) * 1_000_000,
            output=float(per_output) * 1_000_000,
            source=f"litellm price map ({key})",
        )
    return None


class PriceBook:
    """Prices for the models of a tier table, looked up once each."""

    def __init__(self, table: TierTable, use_litellm: bool = True) -> None:
        self.table = table
        self.use_litellm = use_litellm
        self._cache: dict[str, Price | None] = {}

    def for_tier(self, tier: str, model: str | None) -> Price | None:
        """The price of ``tier`` (its configured price, else its model's litellm price)."""
        configured = self.table.tier_config(tier).price
        if configured is not None:
            return Price(input=configured.input, output=configured.output, source=f"config routing.tiers.{tier}.price")
        return self.for_model(model) if model else None

    def for_model(self, model: str) -> Price | None:
        """The price of a model: a configured price of a tier using it, else litellm's."""
        if model not in self._cache:
            price = None
            for tier in self.table.by_rank():
                tier_config = self.table.tier_config(tier)
                if tier_config.price is not None and self.table.own_model(tier) == model:
                    price = Price(
                        input=tier_config.price.input,
                        output=tier_config.price.output,
                        source=f"config routing.tiers.{tier}.price",
                    )
                    break
            if price is None and self.use_litellm:
                price = litellm_price(model)
            self._cache[model] = price
        return self._cache[model]
