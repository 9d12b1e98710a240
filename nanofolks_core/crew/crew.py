"""The crew of one process: drives each user message through the whole pipeline::

    message_in hooks → clean and sanitize → tag → intent → route (model tier) → dispatch →
    context (history from the latest summary, compaction, memory) → collect (bots, tool loop,
    delegation) → message_out hooks → room history and memory

The user's message is stored together with the replies, once the crew has answered: a message
the crew could not answer (provider down, too long) is not stored, so sending it again does not
show it twice nor send it twice to the model. Memory, the router and the tool-output store are
helpers: when one fails the crew answers without it and the result carries one warning.

Every step is logged at debug level (logger ``nanofolks.pipeline``) with its timing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER
from nanofolks_core.crew.team import Team
from nanofolks_core.errors import UsageError
from nanofolks_core.memory import MemoryEvent, NullMemory
from nanofolks_core.messages import ChatMessage, InboundMessage, LLMRequest, OutboundMessage
from nanofolks_core.pipeline.compaction import Compaction
from nanofolks_core.pipeline.dispatch import dispatch
from nanofolks_core.pipeline.intent import Intent, classify_intent
from nanofolks_core.pipeline.records import EventSink, TurnResult, TurnServices
from nanofolks_core.pipeline.tagging import parse_tags
from nanofolks_core.pipeline.tool_outputs import ToolOutputStore
from nanofolks_core.pipeline.turn import Turn
from nanofolks_core.pipeline.window import ContextWindow
from nanofolks_core.provider import ProviderNotConfigured
from nanofolks_core.text import clean_text, for_terminal

log = logging.getLogger("nanofolks.pipeline")

#: Most earlier messages read per turn; compaction keeps the view since the last summary
#: well below this, and the window check bounds what is actually sent.
HISTORY_READ_LIMIT = 400
#: Share of the window the memory section may take.
MEMORY_SHARE = 0.1


def _sender_meta(inbound: InboundMessage) -> dict[str, Any]:
    """What the room history keeps of who wrote a message: the channel's id, and its display name."""
    name = inbound.metadata.get("sender_name") if isinstance(inbound.metadata, dict) else None
    return {"sender": inbound.sender, **({"sender_name": str(name)} if name else {})}


def _speaker(message: Any) -> str | None:
    """Who wrote a user message, for memory: a chat app's display name, else its id (None for the
    terminal's anonymous "user")."""
    if message.role != "user":
        return None
    name = message.meta.get("sender_name") or message.meta.get("sender")
    return None if name in (None, "", "user") else str(name)


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
        memory_factory: Callable[[], Any] | None = None,
        router: Any = None,
        tools: dict[str, Any] | None = None,
        warnings: tuple[str, ...] = (),
        skills_section: str = "",
    ) -> None:
        self.host = host
        self.config = config
        self.rooms = rooms
        self.sessions = sessions
        self.team = team
        self.llm = llm
        self.sanitize = sanitizer
        self.workspace = workspace
        self._memory = memory
        self._memory_factory = memory_factory
        self.router = router
        self.tools = dict(tools or {})  # name -> BoundTool
        self.warnings = warnings
        self.tool_outputs = ToolOutputStore(data_root / "tool_outputs.db")
        defaults = config.agents.defaults
        self.window = ContextWindow(
            config=config.compaction,
            max_tokens=defaults.max_tokens,
            window_for=lambda model: defaults.context_window or llm.context_window(model),
            counter_for=llm.token_counter,
        )
        self.compaction = Compaction(
            config=config.compaction, window=self.window, llm=llm, sessions=sessions, team=team
        )
        self.services = TurnServices(
            llm=llm,
            window=self.window,
            team=team,
            rooms=rooms,
            tools=self.tools,
            workspace=workspace,
            temperature=defaults.temperature,
            max_tool_iterations=defaults.max_tool_iterations,
            sanitize=sanitizer,
            check_tool_call=functools.partial(host.first, "nanofolks_tool_call_check"),
            record_route=router.record if router is not None else None,
            tool_outputs=self.tool_outputs,
            skills_section=skills_section,
            notify=host.notify,
            delegation_timeout=defaults.delegation_timeout,
        )

    @property
    def memory(self) -> Any:
        """The memory backend, built on first use: a message that fails before it needs memory
        (no model, too long) never pays for it, and one that cannot be built is a warning."""
        if self._memory is None:
            self._memory = self._memory_factory() if self._memory_factory is not None else NullMemory()
        return self._memory

    @memory.setter
    def memory(self, backend: Any) -> None:
        self._memory = backend

    @classmethod
    def from_app(cls, app: Any) -> Crew:
        """The crew for ``app``'s config, plugins and stores."""
        from nanofolks_core.crew.team import resolve_team
        from nanofolks_core.security.references import ReferenceGuard
        from nanofolks_core.skills.tool import crew_skills_section
        from nanofolks_core.tools.runtime import build_tool

        config = app.config
        team, warning = resolve_team(app.registry, config.team)
        warnings = [warning] if warning else []
        defaults = config.agents.defaults
        workspace = Path(defaults.workspace).expanduser() if defaults.workspace else app.data_root / "workspace"
        tools = {}
        for spec in app.registry.all("tool"):
            # Built like every runtime (own tools.<name> section, the owner's services); a tool that
            # cannot be built is left out with a warning rather than costing the whole crew.
            section = config.section(spec.config_section()) if spec.config_section() else None
            owner = app.registry.owner(spec.kind, spec.name) or "core"
            try:
                tools[spec.name] = build_tool(spec, section, app.services_for(owner))
            except Exception as exc:  # noqa: BLE001 - plugin code: report it, keep the other tools
                log.warning("tool %s (%s) is unavailable: %s: %s", spec.name, owner, type(exc).__name__, exc)
                warnings.append(f"tool {spec.name} ({owner}) is unavailable: {type(exc).__name__}: {exc}")
        return cls(
            host=app.host,
            config=config,
            rooms=app.rooms,
            sessions=app.sessions,
            team=team,
            llm=app.llm,
            # Credentials become {{name}} references (values in the secret store), or are masked.
            sanitizer=ReferenceGuard.from_app(app),
            workspace=workspace,
            data_root=app.data_root,
            memory_factory=lambda: app.memory,
            router=app.router,
            tools=tools,
            # Names and descriptions of the skills that may load; read_skill reads one on demand.
            skills_section=crew_skills_section(app, workspace, warnings),
            warnings=tuple(warnings),
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
        """Run one user message through the pipeline; store it and the replies in the room's history."""
        from nanofolks_core.sessions import SessionMessage

        timings: dict[str, float] = {}
        started = clock = time.perf_counter()
        warnings: list[str] = []

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[step] = (now - clock) * 1000
            log.debug("%s took %.2f ms", step, timings[step])
            clock = now

        inbound = self.host.pipe("nanofolks_message_in", "message", inbound)
        text = self.sanitize(clean_text(inbound.text))
        room = self.rooms.get(inbound.room)
        lap("prepare")
        tags = parse_tags(text, self.team.mention_map())
        lap("tag")
        intent = await classify_intent(text, tags)
        lap("intent")
        route = await self._route(text, room.id, warnings)
        model = route.model if route is not None else self.default_model()  # fails before anything is stored
        lap("route")
        assignment = dispatch(tags, tuple(room.participants))
        log.debug("dispatch: %s -> %s (intent %s)", assignment.mode, ",".join(assignment.bots), intent.kind)
        lap("dispatch")

        first = assignment.bots[0]
        history = self.sessions.read(room.id, limit=HISTORY_READ_LIMIT)
        turn = Turn(
            self.services, room=room, text=text, body=tags.body, history=history, intent=intent, model=model,
            route=route, on_event=on_event,
        )  # fmt: skip
        self.window.check_fits(turn.messages_for(first)[0], text, model)  # before anything is stored
        if assignment.joined:
            turn.room = self.rooms.add_participants(room.id, *assignment.joined)
        budget = int(self.window.window_for(model) * MEMORY_SHARE)
        try:
            turn.set_memory(await self.memory.context(text, room=room.id, bot=first, budget_tokens=budget))
        except Exception as exc:  # noqa: BLE001 - memory is a help, not a requirement
            self._memory_failed(exc, warnings)
        window_warnings, tokens, window = await self.compaction.check(turn, first)
        warnings.extend(window_warnings)
        if tags.unknown:
            known = ", ".join(f"@{role}" for role in ROLE_ORDER)
            warnings.append(f"{', '.join('@' + name for name in tags.unknown)}: not on the crew ({known}, @all)")
        lap("context")

        single = len(assignment.bots) == 1
        outcomes = await asyncio.gather(
            *(turn.run_bot(bot, stream=stream and single) for bot in assignment.bots), return_exceptions=True
        )
        replies = turn.collect(outcomes, assignment.bots)  # raises when no bot could answer: nothing stored
        warnings.extend(turn.warnings)
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
            final.append(attrs.evolve(reply, text=for_terminal(clean_text(self.sanitize(outbound.text)))))
        user_message = SessionMessage(
            role="user", content=text, channel=inbound.channel, meta=_sender_meta(inbound)
        )
        stored = [user_message] + [
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
        # One append: the question and its answers land together, never a question alone.
        self.sessions.append(room.id, *stored)
        self._remember(room.id, stored, warnings)
        lap("final")
        timings["total"] = (time.perf_counter() - started) * 1000
        timings["overhead"] = timings["total"] - timings["llm"]
        result = TurnResult(room.id, tuple(final), intent, assignment, route, tuple(warnings), tokens, window, timings)
        # Work logs and metrics; they get the text as stored (credentials as {{name}} references).
        self.host.notify("nanofolks_turn_done", inbound=attrs.evolve(inbound, text=text), result=result)
        return result

    async def _route(self, text: str, room: str, warnings: list[str]) -> Any:
        if self.router is None:
            return None
        try:
            route = await self.router.route(
                text, room=room, default_model=self.config.agents.defaults.model, ask=self._ask
            )
        except Exception as exc:  # noqa: BLE001 - without the router every bot uses the default model
            log.debug("router failed", exc_info=True)
            warnings.append(f"router unavailable, using the default model: {type(exc).__name__}: {exc}")
            return None
        if route is not None:
            log.debug("route: tier %s -> %s (layer %d, %.2f)", route.tier, route.model, route.layer, route.confidence)
        return route

    def _memory_failed(self, exc: Exception, warnings: list[str]) -> None:
        log.debug("memory failed", exc_info=True)
        warning = f"memory unavailable for this message: {exc}"
        if not any(w.startswith("memory unavailable") for w in warnings):
            warnings.append(warning)

    def _remember(self, room: str, messages: list, warnings: list[str]) -> None:
        for message in messages:
            try:
                self.memory.record(
                    MemoryEvent(
                        id=message.id,
                        room=room,
                        role=message.role,
                        text=message.content,
                        bot=message.bot,
                        channel=message.channel,
                        ts=message.ts,
                        sender=_speaker(message),
                    )
                )
            except Exception as exc:  # noqa: BLE001 - the room history has it; memory is a help
                self._memory_failed(exc, warnings)
                return

    # -- context window ------------------------------------------------------------------

    def _idle_turn(self, room_id: str) -> tuple[Turn, str]:
        """A turn with an empty message: what the next request in this room would carry."""
        room = self.rooms.get(room_id)
        history = self.sessions.read(room.id, limit=HISTORY_READ_LIMIT)
        bot = LEADER if LEADER in room.participants else room.participants[0]
        turn = Turn(
            self.services, room=room, text="", body="", history=history, intent=Intent("chat", 1.0),
            model=self.default_model(),
        )  # fmt: skip
        return turn, bot

    async def context_usage(self, room_id: str) -> tuple[int, int]:
        """(tokens, window) the next request in this room would use, before the new message."""
        turn, bot = self._idle_turn(room_id)
        return self.window.measure(turn.messages_for(bot), turn.model)

    async def compact_room(self, room_id: str) -> tuple[int, int, int]:
        """Summarize a room's older history now (modes ``summary`` and ``off``); the summary is
        appended, every message stays in the room. Returns (messages folded, tokens before, after).
        """
        if self.config.compaction.mode != "summary":
            raise UsageError(
                f"compaction.mode is {self.config.compaction.mode!r}: only the summary mode stores a summary; "
                'set compaction.mode to "summary" in config.json'
            )
        before, _ = await self.context_usage(room_id)
        turn, bot = self._idle_turn(room_id)
        folded = await self.compaction.compact(turn, bot)
        after, _ = await self.context_usage(room_id)
        return folded, before, after

    async def aclose(self) -> None:
        closers = [self._memory.close] if self._memory is not None else []
        if self.router is not None:
            closers.append(self.router.close)
        for close in (*closers, self.tool_outputs.close):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - closing one helper must not stop closing the rest
                log.warning("closing %s failed: %s", getattr(close, "__qualname__", close), exc)
        await self.llm.aclose()
