"""The tier router: picks the model tier for each user message, sticky per room.

How one message is routed (``TierRouterImpl.route``):

1. Routing is off (``routing.enabled`` false) or no tier has a model: ``None``, the core
   uses ``agents.defaults.model``.
2. Layer 1, the local classifier (:mod:`nanofolks_router.classifier`), scores the message.
3. Sticky rule (``routing.sticky``, on by default): if the room already has a tier (chosen
   less than ``routing.stickyMinutes`` ago), the room keeps it (layer 0) unless the
   message *clearly* needs something else, which breaks the stickiness:

   * layer 1 is confident (``confidence >= routing.confidenceThreshold``) and its tier
     ranks higher than the room's tier; or
   * layer 1 is confident that the message is code and the room's tier is not ``coding``.

   An unsure verdict never breaks stickiness and never costs a layer-2 call in a sticky
   room. Easier messages do not move a room down: it goes back to per-message routing only
   when its tier expires or with ``nanofolks routing reset``.
4. Without a sticky tier: layer 1's tier when it is confident; otherwise, with
   ``routing.layer2`` on, layer 2 asks the cheapest tier's model through the core's
   ``ask`` callable. If that call fails or names no tier, layer 1's verdict stands.
5. The tier's model is ``routing.tiers.<tier>.model``, or a neighbour tier's (see
   :mod:`nanofolks_router.tiers`); the decision's reason says which, and the room's tier
   is saved in ``<data root>/routing/routing.db``.

``record(request, response)`` stores each finished LLM call's tier, tokens and cost for
``nanofolks routing analytics``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import attrs

from nanofolks_core.api import AskLLM, NanofolksError, RouteDecision, Services
from nanofolks_router.classifier import Classification, TierClassifier
from nanofolks_router.config import RoutingConfig
from nanofolks_router.store import RoomTier, RoutingStore
from nanofolks_router.tiers import TierTable

log = logging.getLogger("nanofolks.router")

TIER_DESCRIPTIONS = {
    "simple": "greetings, small talk, quick facts, one-step requests",
    "medium": "everyday writing (emails, letters, posts), summaries, explanations, ideas",
    "complex": "in-depth analysis, strategy, research, long structured documents",
    "reasoning": "proofs, math problems, logic puzzles, probability",
    "coding": "writing, debugging or explaining code, error messages, developer tools",
}
#: How much of a message layer 2 sees: the start says what kind of task it is.
LAYER2_MAX_CHARS = 2000


@attrs.frozen(kw_only=True)
class Preview:
    """What ``routing test`` shows: a decision without room state; ``model`` may be None."""

    tier: str
    confidence: float
    layer: int
    model: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class TierRouterImpl:
    """The ``tiers`` router's runtime; built by the core as
    ``TierRouterImpl(spec=, config=<the routing section>, services=)``. The tiers are the
    registered ``TierSpec``s (``services.registered("router-tier")``).
    """

    def __init__(
        self,
        *,
        services: Services,
        spec: Any = None,
        config: RoutingConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.config: RoutingConfig = config or RoutingConfig()
        self.table = TierTable(services.registered("router-tier"), self.config)
        # <data root>/routing/ predates per-plugin folders; kept so existing rooms keep their tiers.
        self.store = RoutingStore(services.data_root)
        self.classifier = TierClassifier()
        self._clock = clock
        self._store_warned = False

    @property
    def active(self) -> bool:
        """Routing is enabled and at least one tier has a model."""
        return self.config.enabled and bool(self.table.configured())

    # -- the contract --------------------------------------------------------------------

    async def route(self, text: str, *, room: str, default_model: str | None, ask: AskLLM) -> RouteDecision | None:
        """Pick the tier and model for this message in ``room`` (None: routing is off)."""
        if not self.active:
            return None
        verdict = self.classifier.classify(text)
        sticky = self._sticky_tier(room)
        if sticky is not None:
            why_break = self._breaks_stickiness(verdict, sticky.tier)
            if why_break is None:
                self._quietly(self.store.touch_room, room, now=self._clock())
                reason = (
                    f"sticky: room {room!r} keeps tier {sticky.tier} "
                    f"(this message alone: {verdict.tier}, {verdict.explain()})"
                )
                return self._decision(sticky.tier, sticky.confidence, 0, reason, default_model)
            tier, confidence, layer = verdict.tier, verdict.confidence, 1
            reason = f"layer 1: {verdict.explain()}; {why_break}, so room {room!r} leaves tier {sticky.tier}"
        else:
            tier, confidence, layer, reason = await self._classify(text, verdict, ask if self.config.layer2 else None)
        decision = self._decision(tier, confidence, layer, reason, default_model)
        if decision is not None and self.config.sticky:
            self._quietly(self.store.set_room_tier, room, tier, confidence, layer, now=self._clock())
        return decision

    def record(self, request: Any, response: Any) -> None:
        """Store a finished call (tier from ``request.metadata['tier']``); calls without a tier are not routing's."""
        tier = request.metadata.get("tier")
        if not tier:
            return
        self._quietly(
            self.store.add_call,
            tier=str(tier),
            model=response.model or request.model,
            prompt_tokens=response.usage.prompt_tokens,
            completion_tokens=response.usage.completion_tokens,
            cost=response.cost,
            room=request.metadata.get("room"),
            bot=request.metadata.get("bot"),
        )

    def close(self) -> None:
        """Close the routing database (it reopens if the router is used again)."""
        self.store.close()

    def doctor(self, repair: bool = False) -> list[Any]:
        """Health check of the routing database (``nanofolks doctor``); ``repair`` replaces a damaged one."""
        from nanofolks_router.health import check_store

        return check_store(self.store, repair)

    def _quietly(self, action: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a store call; if the database cannot be used, warn once and route without it."""
        try:
            return action(*args, **kwargs)
        except NanofolksError as exc:
            # Sticky tiers and analytics are helps: an unwritable or damaged database must not
            # cost the user their reply.
            if not self._store_warned:
                self._store_warned = True
                log.warning("routing: %s; routing goes on without sticky tiers and analytics", exc)
            return None

    # -- previews (``routing test``) -------------------------------------------------------

    async def preview(self, text: str, *, default_model: str | None, ask: AskLLM | None = None) -> Preview:
        """Classify without room state; layer 2 only when ``ask`` is given and layer 1 is unsure."""
        verdict = self.classifier.classify(text)
        tier, confidence, layer, reason = await self._classify(text, verdict, ask)
        resolved = self.table.resolve(tier, default_model)
        if not self.config.enabled:
            reason += "; routing is disabled (routing.enabled is false), so chat uses the default model"
        elif not self.table.configured():
            reason += "; no routing.tiers.<tier>.model is configured, so chat uses the default model"
        else:
            reason += f"; {resolved.note()}"
        return Preview(tier=tier, confidence=confidence, layer=layer, model=resolved.model, reason=reason)

    # -- internals -----------------------------------------------------------------------

    def _sticky_tier(self, room: str) -> RoomTier | None:
        if not self.config.sticky:
            return None
        state = self._quietly(self.store.room_tier, room)
        if state is None or state.tier not in self.table.specs:
            return None
        ttl = self.config.sticky_minutes * 60
        if ttl and self._clock() - state.updated_at > ttl:
            return None
        return state

    def _breaks_stickiness(self, verdict: Classification, room_tier: str) -> str | None:
        """Why this message leaves the room's tier, or None when the room keeps it."""
        if verdict.confidence < self.config.confidence_threshold:
            return None
        if self.table.rank(verdict.tier) > self.table.rank(room_tier):
            return f"clearly harder than {room_tier}"
        if verdict.tier == "coding" and room_tier != "coding":
            return "clearly a coding message"
        return None

    async def _classify(self, text: str, verdict: Classification, ask: AskLLM | None) -> tuple[str, float, int, str]:
        layer1 = (verdict.tier, verdict.confidence, 1, f"layer 1: {verdict.explain()}")
        if verdict.confidence >= self.config.confidence_threshold or ask is None:
            return layer1
        try:
            # The cheapest configured tier answers; tagging the call with its tier lets analytics count it.
            cheapest = self.table.cheapest()
            model = self.table.own_model(cheapest) if cheapest else None
            answer = await ask(self._layer2_prompt(text), model=model, tier=cheapest)
        except NanofolksError as exc:
            # A failed classification call must not cost the user their reply.
            log.warning("layer-2 routing failed, using layer 1's verdict: %s", exc)
            return (*layer1[:3], f"{layer1[3]}; layer 2 failed ({exc})")
        tier, exact = self._parse_answer(answer)
        if tier is None:
            return (*layer1[:3], f"{layer1[3]}; layer 2 answered {answer.strip()[:40]!r}, which names no tier")
        confidence = 0.9 if exact else 0.75
        return tier, confidence, 2, f"layer 2 (LLM) chose {tier}; layer 1 was unsure: {verdict.explain()}"

    def _layer2_prompt(self, text: str) -> str:
        lines = [f"- {name}: {TIER_DESCRIPTIONS.get(name, name)}" for name in self.table.by_rank()]
        return (
            "You route chat messages to the model tier that can answer them well at the lowest cost.\n"
            "Tiers:\n" + "\n".join(lines) + "\n"
            "Answer with the tier name only.\n\nMessage:\n<<<\n" + text[:LAYER2_MAX_CHARS] + "\n>>>"
        )

    def _parse_answer(self, answer: str) -> tuple[str | None, bool]:
        """(tier, whether the answer was exactly a tier name) from the model's reply."""
        cleaned = answer.strip().strip(".`'\"*").lower()
        if cleaned in self.table.specs:
            return cleaned, True
        lowered = answer.lower()
        found = sorted((lowered.find(name), name) for name in self.table.specs if name in lowered)
        return (found[0][1], False) if found else (None, False)

    def _decision(
        self, tier: str, confidence: float, layer: int, reason: str, default_model: str | None
    ) -> RouteDecision | None:
        resolved = self.table.resolve(tier, default_model)
        if resolved.model is None:
            return None
        return RouteDecision(
            tier=tier, model=resolved.model, confidence=confidence, layer=layer, reason=f"{reason}; {resolved.note()}"
        )
