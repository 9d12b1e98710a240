"""The ``routing`` config section (attrs only: imported at plugin discovery).

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


def _key(attribute: attrs.Attribute) -> str:
    """The config file's (camelCase) spelling of a field, for error messages."""
    head, *rest = attribute.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _not_negative(_inst: object, attribute: attrs.Attribute, value: float) -> None:
    if value < 0:
        raise ValueError(f"{_key(attribute)} must be zero or more, got {value}")


def _fraction(_inst: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{_key(attribute)} must be between 0 and 1, got {value}")


@attrs.define(kw_only=True)
class TierPrice:
    """USD per million tokens, for cost figures when the provider reports none."""

    input: float = attrs.field(validator=_not_negative)
    output: float = attrs.field(validator=_not_negative)


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
    sticky_minutes: int = attrs.field(default=60, validator=_not_negative)
    layer2: bool = True
    confidence_threshold: float = attrs.field(default=0.6, validator=_fraction)
