"""One turn of the crew: each assigned bot's model calls, its tool loop, and delegation."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from nanofolks_core.crew.identity import compose_identity
from nanofolks_core.crew.roles import LEADER, ROLE_ORDER, ROLES
from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import ChatMessage, InboundMessage, LLMRequest, ToolCall, Usage
from nanofolks_core.pipeline.context import history_messages, system_prompt
from nanofolks_core.pipeline.intent import Intent
from nanofolks_core.pipeline.tools import Tool, ToolContext, as_text, clip, tool_schema

if TYPE_CHECKING:
    from nanofolks_core.pipeline.orchestrator import BotReply, Crew, EventSink
    from nanofolks_core.routing import RouteDecision

log = logging.getLogger("nanofolks.pipeline")

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


class Turn:
    """State of one turn, shared by the bots that answer it (and those they delegate to)."""

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
        route: RouteDecision | None,
        memory_section: str,
    ) -> None:
        self.crew = crew
        self.room = room
        self.text = text
        self.body = body
        self.history = [m for m in history if not m.meta.get("summary")]
        self.summaries = [m.content for m in history if m.meta.get("summary")]
        self.intent = intent
        self.inbound = inbound
        self.emit = on_event or (lambda event: None)
        self.route = route
        self.memory_section = memory_section
        self.delegated: list[BotReply] = []
        self.llm_seconds = 0.0
        self.model = route.model if route else crew.default_model()

    # -- building the request ---------------------------------------------------------------

    def messages_for(self, bot: str, brief: str | None = None) -> list[ChatMessage]:
        crew = self.crew
        extra = []
        if self.summaries:
            extra.append("## Earlier in this room (summary)\n" + "\n\n".join(self.summaries))
        if self.memory_section:
            extra.append(self.memory_section)
        prompt = system_prompt(
            compose_identity(bot, crew.team, crew.workspace),
            team=crew.team,
            role=bot,
            room_id=self.room.id,
            room_type=str(self.room.type),
            participants=self.room.participants,
            intent=self.intent,
            brief=brief,
            extra=extra,
        )
        return [
            ChatMessage(role="system", content=prompt),
            *history_messages(self.history, bot, crew.team),
            ChatMessage(role="user", content=self.text),
        ]

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

    def _reply(self, bot: str, text: str, **kwargs: Any) -> BotReply:
        from nanofolks_core.pipeline.orchestrator import BotReply

        character = self.crew.team.character(bot)
        return BotReply(bot=bot, name=character.name, emoji=character.emoji, text=text, **kwargs)

    # -- running bots -----------------------------------------------------------------------

    def collect(self, outcomes: list, bots: tuple[str, ...]) -> list[BotReply]:
        from nanofolks_core.pipeline.orchestrator import CrewEvent

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

    async def run_bot(
        self, bot: str, *, stream: bool = False, brief: str | None = None, delegated_by: str | None = None
    ) -> BotReply:
        from nanofolks_core.pipeline.orchestrator import CrewEvent

        crew = self.crew
        started = time.perf_counter()
        self.emit(CrewEvent("start", bot))
        defaults = crew.config.agents.defaults
        messages = self.messages_for(bot, brief)
        tools, schemas = self._tools_for(bot, may_delegate=delegated_by is None)
        usage = Usage()
        on_delta = (lambda piece: self.emit(CrewEvent("delta", bot, piece))) if stream else None
        response = None
        step = 0
        for step in range(defaults.max_tool_iterations + 1):
            last_step = step == defaults.max_tool_iterations
            messages, max_tokens = crew.window.fit(messages, self.model)
            request = LLMRequest(
                model=self.model,
                messages=messages,
                tools=() if last_step else schemas,
                temperature=defaults.temperature,
                max_tokens=max_tokens,
                stream=stream,
                metadata={
                    "room": self.room.id,
                    "bot": bot,
                    "intent": self.intent.kind,
                    "step": step,
                    **({"tier": self.route.tier} if self.route else {}),
                },
            )
            llm_started = time.perf_counter()
            response = await crew.llm.complete(request, on_delta=on_delta)
            self.llm_seconds += time.perf_counter() - llm_started
            if crew.router is not None:
                crew.router.record(request, response)
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
                    ChatMessage(role="tool", content=crew.sanitize(result), tool_call_id=call.id, name=call.name)
                )
        assert response is not None
        text = response.content.strip() or "(no answer)"
        reply = self._reply(bot, text, model=response.model or self.model, usage=usage, delegated_by=delegated_by)
        log.debug("bot %s answered in %.1f ms (%d steps)", bot, (time.perf_counter() - started) * 1000, step + 1)
        self.emit(CrewEvent("reply", bot, text, reply))
        return reply

    async def _run_tool(self, bot: str, call: ToolCall, tools: dict[str, Tool]) -> str:
        crew = self.crew
        denied = crew.host.first(
            "nanofolks_tool_call_check", call=call, context={"room": self.room.id, "bot": bot, "role": bot}
        )
        if denied:
            log.debug("tool %s denied for %s: %s", call.name, bot, denied)
            return f"denied: {denied}"
        started = time.perf_counter()
        if call.name == "delegate" and bot == LEADER:
            result = await self._delegate(call.arguments)
        elif call.name in tools:
            context = ToolContext(self.room.id, bot, crew.workspace, crew.tool_outputs)
            try:
                result = as_text(await tools[call.name].run(call.arguments, context))
            except (ValueError, TypeError, OSError) as exc:
                # The model chose the arguments: a bad one is the model's to fix, not a crash.
                result = f"error: {call.name} failed: {exc}"
            result = crew.tool_outputs.shrink(result, room=self.room.id, bot=bot, tool=call.name)
        else:
            result = f"error: there is no tool named {call.name!r}"
        log.debug("tool %s for %s took %.1f ms", call.name, bot, (time.perf_counter() - started) * 1000)
        return clip(result)

    async def _delegate(self, arguments: dict[str, Any]) -> str:
        to = str(arguments.get("to", "")).lower().lstrip("@")
        task = str(arguments.get("task", "")).strip() or self.body
        if to not in ROLES or to == LEADER:
            return f"error: cannot delegate to {to!r}; choose one of {', '.join(r for r in ROLE_ORDER if r != LEADER)}"
        rooms = self.crew.rooms
        room_task = None
        if str(self.room.type) != "direct":  # a direct room keeps its one bot; the specialist helps from outside
            if to not in self.room.participants:
                self.room = rooms.add_participants(self.room.id, to)
            # Delegated work shows up as a room task, so progress stays visible (`room task list`).
            room_task = rooms.add_task(self.room.id, task[:120], owner=to)
        reply = await self.run_bot(to, brief=task, delegated_by=LEADER)
        if room_task is not None:
            rooms.set_task_status(self.room.id, room_task.id, "done")
        self.delegated.append(reply)
        return f"{reply.name} ({to}) answered:\n{reply.text}"
