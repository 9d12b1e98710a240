"""The routing contract: how a router plugin picks the model for a turn.

A router plugin registers a ``ClassifierSpec``; its factory is called as
``factory(spec=..., config=None, data_root=Path, tiers=[TierSpec, ...], sections=dict)`` and
returns a :class:`TierRouter`. The core asks it once per user message, before the bots run;
without a router, every bot uses ``agents.defaults.model``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import attrs

from nanofolks_core.messages import LLMRequest, LLMResponse


@attrs.frozen(kw_only=True)
class RouteDecision:
    """``layer``: 1 (local classifier), 2 (LLM-assisted) or 0 (sticky: kept from the room's last turn)."""

    tier: str
    model: str
    confidence: float
    layer: int
    reason: str = ""


#: ``await ask(prompt, model=None, tier=None) -> answer``: one LLM call for layer 2 only. The
#: router passes its cheapest tier's model and name (the call is then recorded for analytics);
#: without a model the core uses ``agents.defaults.model``.
AskLLM = Callable[..., Awaitable[str]]


@runtime_checkable
class TierRouter(Protocol):
    async def route(self, text: str, *, room: str, default_model: str | None, ask: AskLLM) -> RouteDecision | None:
        """Pick the tier and model for this message (None: routing off, use the default model)."""

    def record(self, request: LLMRequest, response: LLMResponse) -> None:
        """Account a finished call (tokens, cost) for analytics; ``request.metadata['tier']`` says which tier."""

    def close(self) -> None: ...
