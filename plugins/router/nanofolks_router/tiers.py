"""Which model serves a tier: ``routing.tiers.<tier>.model``, else a neighbour tier's.

A tier without a model borrows one, in this order:

1. another tier of the same rank (``coding`` borrows ``complex``'s; specialist tiers like
   ``coding`` are the last choice among equals, since a general tier suits more messages);
2. the tier one rank up (a harder message should not land on a weaker model), then one
   rank down;
3. ``agents.defaults.model``;
4. with no default model either, the nearest configured tier, stronger ones first.

The decision's reason says which.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from nanofolks_core.api import NanofolksError
from nanofolks_router.config import RoutingConfig, TierConfig

#: Tiers for one kind of work: borrowed from only when no general tier is as close.
SPECIALISTS = frozenset({"coding"})


@attrs.frozen(kw_only=True)
class ResolvedModel:
    """The model for a tier; ``source`` is the tier it came from (None: the default model)."""

    tier: str
    model: str | None
    source: str | None

    def note(self) -> str:
        if self.model is None:
            return f"tier {self.tier} has no model and no default model is set"
        if self.source == self.tier:
            return f"model from routing.tiers.{self.tier}.model"
        if self.source is None:
            return f"tier {self.tier} has no model configured; using the default model (agents.defaults.model)"
        return f"tier {self.tier} has no model configured; using {self.source}'s model (routing.tiers.{self.source})"


class TierTable:
    """Registered tiers (``TierSpec``) joined with the ``routing.tiers`` config."""

    def __init__(self, specs: Iterable[Any], config: RoutingConfig) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.config = config
        unknown = sorted(set(config.tiers) - set(self.specs))
        if unknown:
            known = ", ".join(sorted(self.specs)) or "none (is the router plugin enabled?)"
            raise NanofolksError(
                f"routing.tiers.{unknown[0]} in config.json names no known tier (known tiers: {known}). "
                "Fix the name, or remove the entry."
            )

    def rank(self, tier: str) -> int:
        spec = self.specs.get(tier)
        return spec.rank if spec is not None else 0

    def tier_config(self, tier: str) -> TierConfig:
        return self.config.tiers.get(tier) or TierConfig()

    def own_model(self, tier: str) -> str | None:
        """The tier's configured model, else its TierSpec's default model."""
        configured = self.tier_config(tier).model
        if configured:
            return configured
        spec = self.specs.get(tier)
        return spec.default_model if spec is not None else None

    def configured(self) -> list[str]:
        """Tiers that have a model of their own, weakest first."""
        return [name for name in self.by_rank() if self.own_model(name)]

    def by_rank(self) -> list[str]:
        return sorted(self.specs, key=lambda name: (self.rank(name), name))

    def resolve(self, tier: str, default_model: str | None) -> ResolvedModel:
        own = self.own_model(tier)
        if own:
            return ResolvedModel(tier=tier, model=own, source=tier)
        rank = self.rank(tier)
        others = [name for name in self.configured() if name != tier]
        # Nearest rank first, stronger before weaker, general before specialist tiers.
        ordered = sorted(others, key=lambda n: (abs(self.rank(n) - rank), self.rank(n) < rank, n in SPECIALISTS, n))
        near = [name for name in ordered if abs(self.rank(name) - rank) <= 1]
        if near:
            return ResolvedModel(tier=tier, model=self.own_model(near[0]), source=near[0])
        if default_model:
            return ResolvedModel(tier=tier, model=default_model, source=None)
        if ordered:
            return ResolvedModel(tier=tier, model=self.own_model(ordered[0]), source=ordered[0])
        return ResolvedModel(tier=tier, model=None, source=None)

    def cheapest(self) -> str | None:
        """The weakest tier with a model: layer 2 asks it."""
        configured = self.configured()
        return configured[0] if configured else None

    def top(self) -> str | None:
        """The strongest tier with a model: what "always the best model" would cost."""
        configured = self.configured()
        return configured[-1] if configured else None
