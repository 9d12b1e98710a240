"""Steps 4 and 5, collect and final: run the assigned bots and produce the turn's replies.

``Crew.handle`` drives one user message through the whole pipeline::

    message_in hooks → sanitize → tag → intent → dispatch → collect (bots, tool loop,
    delegation) → message_out hooks → room history

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

from nanofolks_core.crew.identity import compose_identity
from nanofolks_core.crew.roles import LEADER, ROLE_ORDER, ROLES
from nanofolks_core.crew.team import Team
from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import ChatMessage, InboundMessage, LLMRequest, OutboundMessage, ToolCall, Usage
from nanofolks_core.pipeline.context import history_messages, system_prompt
from nanofolks_core.pipeline.dispatch import Assignment, dispatch
from nanofolks_core.pipeline.intent import Intent, classify_intent
from nanofolks_core.pipeline.tagging import parse_tags
from nanofolks_core.pipeline.tools import Tool, ToolContext, as_text, clip, tool_schema
from nanofolks_core.provider import ProviderNotConfigured

log = logging.getLogger("nanofolks.pipeline")

#: How many earlier room messages each bot sees (compaction bounds it by tokens as well).
HISTORY_LIMIT = 40

DELEGATE_TOOL = {
    "type": "function",
    "function": {
        "name": "delegate",
        "description": "Hand part of the work to a specialist on the crew. Returns their answer.",
        "parameters": {
            "type": "object",
            "properties": {
                "to": {"type": "string", "enum": [r for r in ROLE_ORDER if r != LEADER]},
                "task": {"type": "string", "description": "A clear brief: goal, inputs, what done looks like."},
            },
            "required": ["to", "task"],
        },
    },
}


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
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = attrs.field(factory=dict)


EventSink = Callable[[CrewEvent], None]


class Crew:
    """The crew of one process: team, rooms, history, model access and tools."""

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
        tools: dict[str, Tool] | None = None,
        tool_roles: dict[str, tuple[str, ...]] | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.config = config
        self.rooms = rooms
        self.sessions = sessions
        self.team = team
        self.llm = llm
        self.sanitize = sanitizer
        self.workspace = workspace
        self.tools = tools or {}
        self.tool_roles = tool_roles or {}
        self.warnings = warnings
        self._llm_seconds = 0.0

    @classmethod
    def from_app(cls, app: Any) -> Crew:
        from nanofolks_core.crew.team import resolve_team
        from nanofolks_core.llm import LLMClient
        from nanofolks_core.sanitizer import SecretSanitizer

        config = app.config
        team, warning = resolve_team(app.registry, config.team)
        workspace = (
            Path(config.agents.defaults.workspace).expanduser()
            if config.agents.defaults.workspace
            else (app.data_root / "workspace")
        )
        tools = {spec.name: spec.load()() for spec in app.registry.all("tool")}
        tool_roles = {spec.name: spec.roles for spec in app.registry.all("tool")}
        return cls(
            host=app.host,
            config=config,
            rooms=app.rooms,
            sessions=app.sessions,
            team=team,
            llm=LLMClient(app.registry, config.sections, app.host.pipe),
            sanitizer=SecretSanitizer(app.registry.all("secret-pattern")),
            workspace=workspace,
            tools=tools,
            tool_roles=tool_roles,
            warnings=(warning,) if warning else (),
        )

    # -- the pipeline --------------------------------------------------------------------

    def model_for(self, bot: str, room: str, text: str) -> str:
        model = self.config.agents.defaults.model
        if not model:
            raise ProviderNotConfigured(
                "no model is configured. Run `nanofolks onboard`, or set agents.defaults.model in config.json "
                '(for a local OpenAI-compatible server: "vllm/<model>" plus providers.vllm.apiBase).'
            )
        return model

    async def handle(
        self, inbound: InboundMessage, *, on_event: EventSink | None = None, stream: bool = False
    ) -> TurnResult:
        """Run one user message through the pipeline and store the turn in the room's history."""
        timings: dict[str, float] = {}
        started = clock = time.perf_counter()
        self._llm_seconds = 0.0

        def lap(step: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[step] = (now - clock) * 1000
            log.debug("%s took %.2f ms", step, timings[step])
            clock = now

        inbound = self.host.pipe("nanofolks_message_in", "message", inbound)
        text = self.sanitize(inbound.text)
        room = self.rooms.get(inbound.room)
        self.model_for(LEADER, room.id, text)  # fail fast, before anything is stored, when no model is set
        lap("prepare")

        tags = parse_tags(text, self.team.mention_map())
        lap("tag")
        intent = await classify_intent(text, tags)
        lap("intent")
        assignment = dispatch(tags, tuple(room.participants))
        if assignment.joined:
            room = self.rooms.add_participants(room.id, *assignment.joined)
        log.debug("dispatch: %s -> %s (intent %s)", assignment.mode, ",".join(assignment.bots), intent.kind)
        lap("dispatch")

        from nanofolks_core.sessions import SessionMessage

        history = self.sessions.read(room.id, limit=HISTORY_LIMIT)
        self.sessions.append(
            room.id, SessionMessage(role="user", content=text, channel=inbound.channel, meta={"sender": inbound.sender})
        )
        lap("history")

        turn = _Turn(self, room, text, tags.body, history, intent, inbound, on_event)
        single = len(assignment.bots) == 1
        outcomes = await asyncio.gather(
            *(turn.run_bot(bot, stream=stream and single) for bot in assignment.bots), return_exceptions=True
        )
        replies = turn.collect(outcomes, assignment.bots)
        timings["llm"] = self._llm_seconds * 1000
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
        self.sessions.append(
            room.id,
            *(
                SessionMessage(
                    role="assistant",
                    content=r.text,
                    bot=r.bot,
                    channel=inbound.channel,
                    meta={"model": r.model, **({"delegated_by": r.delegated_by} if r.delegated_by else {})},
                )
                for r in final
                if not r.error
            ),
        )
        lap("final")
        timings["total"] = (time.perf_counter() - started) * 1000
        timings["overhead"] = timings["total"] - timings["llm"]
        return TurnResult(room.id, tuple(final), intent, assignment, self.warnings, timings)

    async def aclose(self) -> None:
        await self.llm.aclose()


class _Turn:
    """State of one turn: shared by the bots that answer it (and those they delegate to)."""

    def __init__(
        self,
        crew: Crew,
        room: Any,
        text: str,
        body: str,
        history: list,
        intent: Intent,
        inbound: InboundMessage,
        on_event: EventSink | None,
    ) -> None:
        self.crew = crew
        self.room = room
        self.text = text
        self.body = body
        self.history = history
        self.intent = intent
        self.inbound = inbound
        self.emit = on_event or (lambda event: None)
        self.delegated: list[BotReply] = []

    def _reply(self, bot: str, text: str, **kwargs: Any) -> BotReply:
        character = self.crew.team.character(bot)
        return BotReply(bot=bot, name=character.name, emoji=character.emoji, text=text, **kwargs)

    def collect(self, outcomes: list, bots: tuple[str, ...]) -> list[BotReply]:
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        for failure in failures:
            if not isinstance(failure, NanofolksError):
                raise failure  # a bug: let it surface
        if failures and len(failures) == len(outcomes):
            raise failures[0]
        replies = list(self.delegated)
        for bot, outcome in zip(bots, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                reply = self._reply(bot, f"(could not answer: {outcome})", error=str(outcome))
                self.emit(CrewEvent("reply", bot, reply.text, reply))
                replies.append(reply)
            else:
                replies.append(outcome)
        return replies

    def _tools_for(self, bot: str, *, may_delegate: bool) -> tuple[dict[str, Tool], list[dict[str, Any]]]:
        allowed = {
            name: tool
            for name, tool in self.crew.tools.items()
            if name in ROLES[bot].tools or bot in self.crew.tool_roles.get(name, ())
        }
        schemas = [tool_schema(tool) for tool in allowed.values()]
        if may_delegate and bot == LEADER and "delegate" in ROLES[bot].tools:
            schemas.append(DELEGATE_TOOL)
        return allowed, schemas

    async def run_bot(
        self, bot: str, *, stream: bool = False, brief: str | None = None, delegated_by: str | None = None
    ) -> BotReply:
        crew = self.crew
        started = time.perf_counter()
        self.emit(CrewEvent("start", bot))
        defaults = crew.config.agents.defaults
        model = crew.model_for(bot, self.room.id, self.text)
        identity = compose_identity(bot, crew.team, crew.workspace)
        prompt = system_prompt(
            identity,
            team=crew.team,
            role=bot,
            room_id=self.room.id,
            room_type=str(self.room.type),
            participants=self.room.participants,
            intent=self.intent,
            brief=brief,
        )
        messages = [
            ChatMessage(role="system", content=prompt),
            *history_messages(self.history, bot, crew.team),
            ChatMessage(role="user", content=self.text),
        ]
        tools, schemas = self._tools_for(bot, may_delegate=delegated_by is None)
        usage = Usage()
        on_delta = (lambda piece: self.emit(CrewEvent("delta", bot, piece))) if stream else None
        response = None
        for step in range(defaults.max_tool_iterations + 1):
            last_step = step == defaults.max_tool_iterations
            request = LLMRequest(
                model=model,
                messages=messages,
                tools=() if last_step else schemas,
                temperature=defaults.temperature,
                max_tokens=defaults.max_tokens,
                stream=stream,
                metadata={"room": self.room.id, "bot": bot, "intent": self.intent.kind, "step": step},
            )
            llm_started = time.perf_counter()
            response = await crew.llm.complete(request, on_delta=on_delta)
            crew._llm_seconds += time.perf_counter() - llm_started
            usage = Usage(
                prompt_tokens=usage.prompt_tokens + response.usage.prompt_tokens,
                completion_tokens=usage.completion_tokens + response.usage.completion_tokens,
            )
            if not response.tool_calls:
                break
            messages.append(ChatMessage(role="assistant", content=response.content, tool_calls=response.tool_calls))
            for call in response.tool_calls:
                result = await self._run_tool(bot, call, tools)
                messages.append(
                    ChatMessage(role="tool", content=clip(crew.sanitize(result)), tool_call_id=call.id, name=call.name)
                )
        assert response is not None
        text = response.content.strip() or "(no answer)"
        reply = self._reply(bot, text, model=response.model or model, usage=usage, delegated_by=delegated_by)
        log.debug("bot %s answered in %.1f ms (%d steps)", bot, (time.perf_counter() - started) * 1000, step + 1)
        self.emit(CrewEvent("reply", bot, text, reply))
        return reply

    async def _run_tool(self, bot: str, call: ToolCall, tools: dict[str, Tool]) -> str:
        crew = self.crew
        denied = crew.host.pm.hook.nanofolks_tool_call_check(
            call=call, context={"room": self.room.id, "bot": bot, "role": bot}
        )
        if denied:
            log.debug("tool %s denied for %s: %s", call.name, bot, denied)
            return f"denied: {denied}"
        started = time.perf_counter()
        if call.name == "delegate" and bot == LEADER:
            result = await self._delegate(call.arguments)
        elif call.name in tools:
            result = as_text(await tools[call.name].run(call.arguments, ToolContext(self.room.id, bot, crew.workspace)))
        else:
            result = f"error: there is no tool named {call.name!r}"
        log.debug("tool %s for %s took %.1f ms", call.name, bot, (time.perf_counter() - started) * 1000)
        return result

    async def _delegate(self, arguments: dict[str, Any]) -> str:
        to = str(arguments.get("to", "")).lower().lstrip("@")
        task = str(arguments.get("task", "")).strip() or self.body
        if to not in ROLES or to == LEADER:
            return f"error: cannot delegate to {to!r}; choose one of {', '.join(r for r in ROLE_ORDER if r != LEADER)}"
        rooms = self.crew.rooms
        if to not in self.room.participants:
            self.room = rooms.add_participants(self.room.id, to)
        # Delegated work shows up as a room task, so progress stays visible (`room task list`).
        room_task = rooms.add_task(self.room.id, task[:120], owner=to)
        reply = await self.run_bot(to, brief=task, delegated_by=LEADER)
        rooms.set_task_status(self.room.id, room_task.id, "done")
        self.delegated.append(reply)
        return f"{reply.name} ({to}) answered:\n{reply.text}"
