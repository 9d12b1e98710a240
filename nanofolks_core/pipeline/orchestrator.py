"""The crew of one process: drives each user message through the whole pipeline::

    message_in hooks → sanitize → tag → intent → route (model tier) → dispatch →
    context (history, compaction, memory) → collect (bots, tool loop, delegation) →
    message_out hooks → room history and memory

Every step is logged at debug level (logger ``nanofolks.pipeline``) with its timing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER
from nanofolks_core.crew.team import Team
from nanofolks_core.errors import NanofolksError
from nanofolks_core.memory import MemoryEvent
from nanofolks_core.messages import ChatMessage, InboundMessage, LLMRequest, OutboundMessage, Usage
from nanofolks_core.pipeline.compaction import (
    ContextWindow,
    chunk_history,
    split_for_budget,
    summary_request_text,
)
from nanofolks_core.pipeline.context import history_messages
from nanofolks_core.pipeline.dispatch import Assignment, dispatch
from nanofolks_core.pipeline.intent import Intent, classify_intent
from nanofolks_core.pipeline.tagging import parse_tags
from nanofolks_core.pipeline.turn import Turn
from nanofolks_core.provider import ProviderNotConfigured
from nanofolks_core.routing import RouteDecision

log = logging.getLogger("nanofolks.pipeline")

#: Most earlier messages read per turn; compaction keeps the history since the last summary
#: well below this, and the window check bounds what is actually sent.
HISTORY_READ_LIMIT = 400
#: Share of the window the memory section may take.
MEMORY_SHARE = 0.1


@attrs.frozen
class BotReply:
    bot: str
    name: str
    emoji: str
    text: str
    model: str = ""
    usage: Usage = attrs.field(factory=Usage)
    delegated_by: str | None = None
    error: str | None = None


@attrs.frozen
class CrewEvent:
    """Progress for a front end: ``start`` (a bot begins), ``delta`` (streamed text), ``reply``."""

    kind: str
    bot: str
    text: str = ""
    reply: BotReply | None = None


@attrs.frozen
class TurnResult:
    room: str
    replies: tuple[BotReply, ...]
    intent: Intent
    assignment: Assignment
    route: RouteDecision | None = None
    warnings: tuple[str, ...] = ()
    context_tokens: int = 0
    context_window: int = 0
    timings: dict[str, float] = attrs.field(factory=dict)


EventSink = Callable[[CrewEvent], None]


class Crew:
    """Team, rooms, history, memory, router, model access and tools, wired together."""

    def __init__(
        self,
        *,
        host: Any,
        config: Any,
        rooms: Any,
        sessions: Any,
        team: Team,
        llm: Any,
        sanitizer: Callable[[str], str],
        workspace: Path,
        data_root: Path,
        memory: Any = None,
        router: Any = None,
        tools: dict[str, Any] | None = None,
        tool_roles: dict[str, tuple[str, ...]] | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        from nanofolks_core.memory import NullMemory
        from nanofolks_core.pipeline.tool_outputs import ToolOutputStore

        self.host = host
        self.config = config
        self.rooms = rooms
        self.sessions = sessions
        self.team = team
        self.llm = llm
        self.sanitize = sanitizer
        self.workspace = workspace
        self.memory = memory or NullMemory()
        self.router = router
        self.tools = tools or {}
        self.tool_roles = tool_roles or {}
        self.warnings = warnings
        self.tool_outputs = ToolOutputStore(data_root / "tool_outputs.db")
        defaults = config.agents.defaults
        self.window = ContextWindow(
            config=config.compaction,
            max_tokens=defaults.max_tokens,
            window_for=lambda model: defaults.context_window or llm.context_window(model),
            counter_for=llm.token_counter,
        )

    @classmethod
    def from_app(cls, app: Any) -> Crew:
        from nanofolks_core.crew.team import resolve_team
        from nanofolks_core.llm import LLMClient
        from nanofolks_core.sanitizer import SecretSanitizer

        config = app.config
        team, warning = resolve_team(app.registry, config.team)
        defaults = config.agents.defaults
        workspace = Path(defaults.workspace).expanduser() if defaults.workspace else app.data_root / "workspace"
        tool_specs = app.registry.all("tool")
        return cls(
            host=app.host,
            config=config,
            rooms=app.rooms,
            sessions=app.sessions,
            team=team,
            llm=LLMClient(app.registry, config.sections, app.host.pipe, app.host.not_loaded()),
            sanitizer=SecretSanitizer(app.registry.all("secret-pattern")),
            workspace=workspace,
            data_root=app.data_root,
            memory=app.memory,
            router=app.router,
            tools={spec.name: spec.load()() for spec in tool_specs},
            tool_roles={spec.name: spec.roles for spec in tool_specs},
            warnings=(warning,) if warning else (),
        )

    def default_model(self) -> str:
        model = self.config.agents.defaults.model
        if not model:
            raise ProviderNotConfigured(
                "no model is configured. Run `nanofolks onboard`, or set agents.defaults.model in config.json "
                '(for a local OpenAI-compatible server: "vllm/<model>" plus providers.vllm.apiBase).'
            )
        return model

    async def _ask(self, prompt: str, model: str | None = None, tier: str | None = None) -> str:
        """One plain model call (layer-2 routing); ``tier`` tags it for the router's analytics."""
        request = LLMRequest(
            model=model or self.default_model(),
            messages=(ChatMessage(role="user", content=prompt),),
            max_tokens=20,
            temperature=0.0,
            metadata={"purpose": "classify", **({"tier": tier} if tier else {})},
        )
        response = await self.llm.complete(request)
        if self.router is not None and tier:
            self.router.record(request, response)
        return response.content

    # -- the pipeline --------------------------------------------------------------------

    async def handle(
        self, inbound: InboundMessage, *, on_event: EventSink | None = None, stream: bool = False
    ) -> TurnResult:
        """Run one user message through the pipeline and store the turn in the room's history."""
        timings: dict[str, float] = {}
        started = clock = time.perf_counter()

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[step] = (now - clock) * 1000
            log.debug("%s took %.2f ms", step, timings[step])
            clock = now

        inbound = self.host.pipe("nanofolks_message_in", "message", inbound)
        text = self.sanitize(inbound.text)
        room = self.rooms.get(inbound.room)
        lap("prepare")
        tags = parse_tags(text, self.team.mention_map())
        lap("tag")
        intent = await classify_intent(text, tags)
        lap("intent")
        route = None
        if self.router is not None:
            route = await self.router.route(
                text, room=room.id, default_model=self.config.agents.defaults.model, ask=self._ask
            )
            if route is not None:
                log.debug(
                    "route: tier %s -> %s (layer %d, %.2f)", route.tier, route.model, route.layer, route.confidence
                )
        if route is None:
            self.default_model()  # fail fast, before anything is stored, when no model is set
        lap("route")
        assignment = dispatch(tags, tuple(room.participants))
        if assignment.joined:
            room = self.rooms.add_participants(room.id, *assignment.joined)
        log.debug("dispatch: %s -> %s (intent %s)", assignment.mode, ",".join(assignment.bots), intent.kind)
        lap("dispatch")

        from nanofolks_core.sessions import SessionMessage

        history = self.sessions.read(room.id, limit=HISTORY_READ_LIMIT)
        turn = Turn(self, room, text, tags.body, history, intent, inbound, on_event, route, "")
        budget = int(self.window.window_for(turn.model) * MEMORY_SHARE)
        memory_warning = None
        try:
            turn.memory_section = await self.memory.context(
                text, room=room.id, bot=assignment.bots[0], budget_tokens=budget
            )
        except NanofolksError as exc:
            # Memory is a help, not a requirement: the crew answers without it (and says so).
            memory_warning = f"memory unavailable for this message: {exc}"
        warnings, tokens, window = await self._check_window(turn, assignment.bots[0])
        if memory_warning:
            warnings.append(memory_warning)
        if tags.unknown:
            known = ", ".join(f"@{role}" for role in ROLE_ORDER)
            warnings.append(f"{', '.join('@' + name for name in tags.unknown)}: not on the crew ({known}, @all)")
        user_message = SessionMessage(
            role="user", content=text, channel=inbound.channel, meta={"sender": inbound.sender}
        )
        self.sessions.append(room.id, user_message)
        self.memory.record(
            MemoryEvent(
                id=user_message.id, room=room.id, role="user", text=text, channel=inbound.channel, ts=user_message.ts
            )
        )
        lap("context")

        single = len(assignment.bots) == 1
        outcomes = await asyncio.gather(
            *(turn.run_bot(bot, stream=stream and single) for bot in assignment.bots), return_exceptions=True
        )
        replies = turn.collect(outcomes, assignment.bots)
        timings["llm"] = turn.llm_seconds * 1000
        lap("collect")

        final = []
        for reply in replies:
            outbound = self.host.pipe(
                "nanofolks_message_out",
                "message",
                OutboundMessage(
                    text=reply.text, bot=reply.bot, channel=inbound.channel, room=room.id, chat_id=inbound.chat_id
                ),
            )
            final.append(attrs.evolve(reply, text=self.sanitize(outbound.text)))
        stored = [
            SessionMessage(
                role="assistant",
                content=r.text,
                bot=r.bot,
                channel=inbound.channel,
                meta={"model": r.model, **({"delegated_by": r.delegated_by} if r.delegated_by else {})},
            )
            for r in final
            if not r.error
        ]
        self.sessions.append(room.id, *stored)
        for message in stored:
            self.memory.record(
                MemoryEvent(
                    id=message.id,
                    room=room.id,
                    role="assistant",
                    text=message.content,
                    bot=message.bot,
                    channel=inbound.channel,
                    ts=message.ts,
                )
            )
        lap("final")
        timings["total"] = (time.perf_counter() - started) * 1000
        timings["overhead"] = timings["total"] - timings["llm"] - timings.get("compaction_llm", 0.0)
        return TurnResult(room.id, tuple(final), intent, assignment, route, tuple(warnings), tokens, window, timings)

    # -- context window ------------------------------------------------------------------

    async def _check_window(self, turn: Turn, bot: str) -> tuple[list[str], int, int]:
        """Warn at warnAt, compact at triggerAt (see compaction.py). Returns (warnings, tokens, window)."""
        settings = self.config.compaction
        tokens, window = self.window.measure(turn.messages_for(bot), turn.model)
        warnings = []
        if tokens >= settings.trigger_at * window and settings.mode != "off":
            await self.compact(turn, bot)
            tokens, window = self.window.measure(turn.messages_for(bot), turn.model)
        if tokens >= settings.warn_at * window:
            warnings.append(
                f"context is {tokens / window:.0%} full ({tokens} of {window} tokens); "
                f"older turns are compacted at {settings.trigger_at:.0%}"
            )
        return warnings, tokens, window

    async def compact(self, turn: Turn, bot: str = LEADER) -> int:
        """Compact ``turn``'s room history now. Returns how many messages were folded away."""
        settings = self.config.compaction
        count = self.window.counter_for(turn.model)
        window = self.window.window_for(turn.model)
        fixed = count(turn.messages_for(bot)[:1]) + count([ChatMessage(role="user", content=turn.text)])
        keep_budget = max(0, int(window * settings.keep_share) - fixed)

        def cost(messages):
            return count(history_messages(messages, bot, self.team))

        if settings.mode == "token-limit":
            cut = split_for_budget(turn.history, cost, keep_budget)
            turn.history = turn.history[cut:]
            return cut
        return await self._summarize(turn, cost, keep_budget)

    async def _summarize(self, turn: Turn, cost: Callable, keep_budget: int) -> int:
        from nanofolks_core.sessions import SessionConflictError, SessionMessage

        room = turn.room.id
        version = self.sessions.version(room)
        full = self.sessions.read(room)
        cut = split_for_budget(full, cost, keep_budget)
        old, kept = full[:cut], full[cut:]
        if not old:
            return 0
        window = self.window.window_for(turn.model)
        started = time.perf_counter()
        # Every folded message must be in some summary request, and each request must fit the
        # window: summarize chunk by chunk, carrying the summary so far into the next request.
        text = ""
        for chunk in chunk_history(old, cost, int(window * 0.5)):
            response = await self.llm.complete(
                LLMRequest(
                    model=turn.model,
                    messages=(
                        ChatMessage(role="system", content="You write faithful, compact summaries."),
                        ChatMessage(role="user", content=summary_request_text(chunk, previous=text)),
                    ),
                    max_tokens=min(800, int(window * 0.1)),
                    temperature=0.2,
                    metadata={"room": room, "purpose": "compaction"},
                )
            )
            text = response.content.strip()
        turn.llm_seconds += time.perf_counter() - started
        summary = SessionMessage(role="system", content=text, meta={"summary": True, "covers": cut})
        try:
            self.sessions.replace(room, [summary, *kept], expected_version=version)
        except SessionConflictError:
            # Another writer got in first; this turn uses the compacted view, the next retries.
            log.debug("compaction of %s lost a race; kept in memory only", room)
        turn.history = [m for m in kept if not m.meta.get("summary")]
        turn.summaries = [summary.content]
        log.debug("compacted %s: %d messages summarized, %d kept", room, cut, len(kept))
        return cut

    def _idle_turn(self, room_id: str) -> tuple[Turn, str]:
        """A turn with an empty message: what the next request in this room would carry."""
        room = self.rooms.get(room_id)
        history = self.sessions.read(room.id, limit=HISTORY_READ_LIMIT)
        bot = LEADER if LEADER in room.participants else room.participants[0]
        turn = Turn(
            self, room, "", "", history, Intent("chat", 1.0), InboundMessage(text="", room=room.id), None, None, ""
        )
        return turn, bot

    async def context_usage(self, room_id: str) -> tuple[int, int]:
        """(tokens, window) the next request in this room would use, before the new message."""
        turn, bot = self._idle_turn(room_id)
        return self.window.measure(turn.messages_for(bot), turn.model)

    async def compact_room(self, room_id: str) -> tuple[int, int, int]:
        """Summarize a room's older history now (modes ``summary`` and ``off``).

        Returns (messages folded, tokens before, tokens after).
        """
        from nanofolks_core.errors import UsageError

        if self.config.compaction.mode != "summary":
            raise UsageError(
                f"compaction.mode is {self.config.compaction.mode!r}: only the summary mode stores a compacted "
                'history; set compaction.mode to "summary" in config.json'
            )
        before, _ = await self.context_usage(room_id)
        turn, bot = self._idle_turn(room_id)
        folded = await self.compact(turn, bot)
        after, _ = await self.context_usage(room_id)
        return folded, before, after

    async def aclose(self) -> None:
        self.memory.close()
        if self.router is not None:
            self.router.close()
        self.tool_outputs.close()
        await self.llm.aclose()
