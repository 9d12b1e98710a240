"""Routing analytics from recorded usage: calls, tokens and cost per tier, and the saving
against sending every call to the top tier.

A call's cost is what the provider reported; when it reported none, the price of the model
(config, else litellm's map) times its tokens; else unknown. A total that includes an
unknown cost is unknown, and so is a saving without a known top-tier price: no figure is
invented.
"""

from __future__ import annotations

from typing import Any

import attrs

from nanofolks_router.prices import Price, PriceBook
from nanofolks_router.store import CallRow
from nanofolks_router.tiers import TierTable

UNKNOWN = "unknown"


@attrs.define(kw_only=True)
class TierUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    known_cost: float = 0.0
    unknown_cost_calls: int = 0

    def add(self, row: CallRow, cost: float | None) -> None:
        self.calls += 1
        self.prompt_tokens += row.prompt_tokens
        self.completion_tokens += row.completion_tokens
        if cost is None:
            self.unknown_cost_calls += 1
        else:
            self.known_cost += cost

    @property
    def cost(self) -> float | str:
        return UNKNOWN if self.unknown_cost_calls else self.known_cost

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": _round(self.cost),
            "calls_without_cost": self.unknown_cost_calls,
        }


def _round(value: float | str) -> float | str:
    return round(value, 6) if isinstance(value, float) else value


@attrs.define(kw_only=True)
class Report:
    tiers: dict[str, TierUsage]
    total: TierUsage
    cost_sources: dict[str, int]
    top_tier: str | None
    top_model: str | None
    top_price: Price | None
    top_cost: float | str
    savings: float | str
    savings_percent: float | str
    note: str

    def as_dict(self) -> dict[str, Any]:
        price = (
            {"input_per_million": self.top_price.input, "output_per_million": self.top_price.output}
            if self.top_price
            else UNKNOWN
        )
        return {
            "tiers": {name: usage.as_dict() for name, usage in self.tiers.items()},
            "total": self.total.as_dict(),
            "cost_sources": self.cost_sources,
            "top_tier": {
                "tier": self.top_tier,
                "model": self.top_model,
                "price": price,
                "price_source": self.top_price.source if self.top_price else UNKNOWN,
            },
            "top_tier_cost": _round(self.top_cost),
            "savings": _round(self.savings),
            "savings_percent": self.savings_percent,
            "note": self.note,
        }


def build_report(rows: list[CallRow], table: TierTable, prices: PriceBook, default_model: str | None) -> Report:
    tiers: dict[str, TierUsage] = {}
    total = TierUsage()
    sources: dict[str, int] = {}
    for row in rows:
        cost, source = row.cost, "provider"
        if cost is None:
            price = prices.for_model(row.model)
            cost, source = (
                (price.cost(row.prompt_tokens, row.completion_tokens), price.source) if price else (None, None)
            )
        sources[source or UNKNOWN] = sources.get(source or UNKNOWN, 0) + 1
        tiers.setdefault(row.tier, TierUsage()).add(row, cost)
        total.add(row, cost)

    top = table.top()
    top_model = table.resolve(top, default_model).model if top else None
    top_price = prices.for_tier(top, top_model) if top else None
    top_cost: float | str = UNKNOWN
    savings: float | str = UNKNOWN
    percent: float | str = UNKNOWN
    if not rows:
        note = "no LLM calls recorded yet"
    elif top is None:
        note = "no tier has a model configured, so there is no top tier to compare with"
    elif top_price is None:
        note = (
            f"no price known for the top tier {top} ({top_model}): set routing.tiers.{top}.price "
            "(USD per million input/output tokens)"
        )
    else:
        top_cost = sum(top_price.cost(row.prompt_tokens, row.completion_tokens) for row in rows)
        if isinstance(total.cost, str):
            note = f"{total.unknown_cost_calls} call(s) have no known cost, so the saving is unknown"
        else:
            savings = top_cost - total.cost
            percent = round(100 * savings / top_cost, 1) if top_cost else 0.0
            note = f"compared with sending every call to {top} ({top_model}) at {top_price.source}"
    return Report(
        tiers=dict(sorted(tiers.items(), key=lambda item: (table.rank(item[0]), item[0]))),
        total=total,
        cost_sources=sources,
        top_tier=top,
        top_model=top_model,
        top_price=top_price,
        top_cost=top_cost,
        savings=savings,
        savings_percent=percent,
        note=note,
    )
