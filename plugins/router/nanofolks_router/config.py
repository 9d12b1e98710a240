"""The ``routing`` config section (attrs and ``nanofolks_core.api`` only: imported at plugin discovery).

::

    "routing": {
      "enabled": true,
      "tiers": {
        "simple":    {"model": "openai/gpt-4o-mini", "price": {"input": 0.15, "output": 0.6}},
        "reasoning": {"model": "openai/o3"}
      },
      "sticky": true, "stickyMinutes": 60,
      "layer2": true, "confidenceThreshold": 0.6
    }
"""

from __future__ import annotations

import attrs

from nanofolks_core.api import validators


@attrs.define(kw_only=True)
class TierPrice:
    """USD per million tokens, for cost figures when the provider reports none."""

    input: float = attrs.field(validator=validators.at_least(0))
    output: float = attrs.field(validator=validators.at_least(0))


@attrs.define(kw_only=True)
class TierConfig:
    """``routing.tiers.<tier>``: the model for the tier and, optionally, its price."""

    model: str | None = None
    price: TierPrice | None = None


@attrs.define(kw_only=True)
class RoutingConfig:
    """``routing``: tier-aware model selection.

    ``confidence_threshold``: layer 1 verdicts below it are "unsure" (layer 2 may be asked,
    and they never break a room's sticky tier). ``sticky_minutes``: a room's tier is
    forgotten after that long without messages (0: never).
    """

    enabled: bool = True
    tiers: dict[str, TierConfig] = attrs.Factory(dict)
    sticky: bool = True
    sticky_minutes: int = attrs.field(default=60, validator=validators.at_least(0))
    layer2: bool = True
    confidence_threshold: float = attrs.field(default=0.6, validator=validators.between(0, 1))
