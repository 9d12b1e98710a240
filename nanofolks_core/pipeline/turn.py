"""One turn of the crew: each assigned bot's model calls, its tool loop, and delegation.

A turn gets the few services it uses (:class:`~nanofolks_core.pipeline.records.TurnServices`),
never the crew itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from nanofolks_core.contracts import ToolContext
from nanofolks_core.crew.identity import compose_identity
from nanofolks_core.crew.roles import LEADER, ROLE_ORDER, ROLES
from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import ChatMessage, LLMRequest, ToolCall, Usage
from nanofolks_core.pipeline.compaction import model_view
from nanofolks_core.pipeline.context import history_messages, system_prompt
from nanofolks_core.pipeline.records import BotReply, CrewEvent, EventSink, TurnServices
from nanofolks_core.pipeline.room_tasks import (
    HAND_OVER,
    HAND_OVER_TOOL,
    hand_over,
    may_hand_over,
    open_tasks_section,
    sanitized_arguments,
)
from nanofolks_core.pipeline.tool_calls import (
    DELEGATE,
    DELEGATE_TOOL,
    clip,
    ensure_workspace,
    may_delegate,
    offered_tools,
)
from nanofolks_core.text import TerminalStream, clean_text, for_terminal

if TYPE_CHECKING:
    from nanofolks_core.contracts import RouteDecision
    from nanofolks_core.pipeline.intent import Intent

log = logging.getLogger("nanofolks.pipeline")


class Turn:
    """State of one turn, shared by the bots that answer it (and those they delegate to).

    ``history`` is the room's history as read; the model sees it from the latest summary on
    (:func:`~nanofolks_core.pipeline.compaction.model_view`).
    """

    def __init__(
        self,
        services: TurnServices,
        *,
        room: Any,
        text: str,
        body: str,
        history: Sequence,
        intent: Intent,
        model: str,
        route: RouteDecision | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.services = services
        self.room = room
        self.text = text
        self.body = body
        self.intent = intent
        self.model = model
        self.route = route
        self.emit = on_event or (lambda event: None)
        self.memory_section = ""
        self.delegated: list[BotReply] = []
        self.warnings: list[str] = []
        self.llm_seconds = 0.0
        self._prompts: dict[tuple[str, str | None], str] = {}
        self._identities: dict[tuple[str, bool], str] = {}
        self.summaries: list[str] = []
        self.history: list = []
        self.set_view(*model_view(history))

    # -- building the request ---------------------------------------------------------------

    def set_view(self, summaries: list[str], history: list) -> None:
        """What the model sees of the room from now on (compaction moves it)."""
        self.summaries = list(summaries)
        self.history = list(history)
        self._prompts.clear()

    def set_memory(self, section: str) -> None:
        self.memory_section = section
        self._prompts.clear()

    def tool_names(self, bot: str, *, delegated: bool = False) -> list[str]:
        """Names of exactly the tools ``bot`` is offered in this turn (what its prompt lists)."""
        names = [tool.name for tool in offered_tools(self.services.tools, bot)]
        if not delegated and may_delegate(bot):
            names.insert(0, DELEGATE)
        if not delegated and may_hand_over(bot):
            names.insert(1, HAND_OVER)
        return names

    def system_prompt_for(self, bot: str, brief: str | None = None) -> str:
        """The bot's system prompt. Its identity (persona, role, workspace overrides, tools) is
        composed once per turn; only the room sections are re-joined when the view changes."""
        key = (bot, brief)
        if key not in self._prompts:
            services = self.services
            delegated = brief is not None
            if (bot, delegated) not in self._identities:
                self._identities[bot, delegated] = compose_identity(
                    bot, services.team, services.workspace, tools=self.tool_names(bot, delegated=delegated)
                )
            extra = []
            if self.summaries:
                extra.append("## Earlier in this room (summary)\n" + "\n\n".join(self.summaries))
            if self.memory_section:
                extra.append(self.memory_section)
            if services.skills_section and "read_skill" in self.tool_names(bot, delegated=delegated):
                extra.append(services.skills_section)
            if not delegated and may_hand_over(bot):
                extra.append(open_tasks_section(services.rooms, self.room.id))
            self._prompts[key] = system_prompt(
                self._identities[bot, delegated],
                team=services.team,
                role=bot,
                room_id=self.room.id,
                room_type=str(self.room.type),
                participants=self.room.participants,
                intent=self.intent,
                brief=brief,
                extra=extra,
            )
        return self._prompts[key]

    def messages_for(self, bot: str, brief: str | None = None) -> list[ChatMessage]:
        return [
            ChatMessage(role="system", content=self.system_prompt_for(bot, brief)),
            *history_messages(self.history, bot, self.services.team),
            ChatMessage(role="user", content=self.text),
        ]

    def _reply(self, bot: str, text: str, **kwargs: Any) -> BotReply:
        character = self.services.team.character(bot)
        return BotReply(bot=bot, name=character.name, emoji=character.emoji, text=text, **kwargs)

    # -- running bots -----------------------------------------------------------------------

    def collect(self, outcomes: list, bots: tuple[str, ...]) -> list[BotReply]:
        """Replies in crew order; raises when every bot failed (the turn has no answer)."""
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
        services = self.services
        started = time.perf_counter()
        self.emit(CrewEvent("start", bot))
        messages = self.messages_for(bot, brief)
        tools = {tool.name: tool for tool in offered_tools(services.tools, bot)}
        schemas = [tool.schema for tool in tools.values()]
        if delegated_by is None and may_delegate(bot):
            schemas.append(DELEGATE_TOOL)
        if delegated_by is None and may_hand_over(bot):
            schemas.append(HAND_OVER_TOOL)
        usage = Usage()
        # A TerminalStream, not for_terminal per piece: an escape sequence split across two pieces is
        # held back until complete and removed whole (no "]0;title" left on screen).
        terminal = TerminalStream()
        on_delta = (lambda piece: self.emit(CrewEvent("delta", bot, terminal.feed(piece)))) if stream else None
        response = None
        step = 0
        for step in range(services.max_tool_iterations + 1):
            last_step = step == services.max_tool_iterations
            messages, max_tokens = services.window.fit(messages, self.model)
            request = LLMRequest(
                model=self.model,
                messages=messages,
                tools=() if last_step else schemas,
                temperature=services.temperature,
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
            response = await services.llm.complete(request, on_delta=on_delta)
            self.llm_seconds += time.perf_counter() - llm_started
            self._record_route(request, response)
            usage = Usage(
                prompt_tokens=usage.prompt_tokens + response.usage.prompt_tokens,
                completion_tokens=usage.completion_tokens + response.usage.completion_tokens,
            )
            if not response.tool_calls:
                break
            messages.append(ChatMessage(role="assistant", content=response.content, tool_calls=response.tool_calls))
            for call in response.tool_calls:
                result = await self._run_tool(bot, call, tools, may_delegate=delegated_by is None)
                messages.append(
                    ChatMessage(
                        role="tool",
                        content=services.sanitize(clean_text(result)),
                        tool_call_id=call.id,
                        name=call.name,
                    )
                )
        assert response is not None
        # Model text is stored, printed and sent to channels: no escape sequence may survive it.
        text = for_terminal(clean_text(response.content)).strip() or "(no answer)"
        reply = self._reply(bot, text, model=response.model or self.model, usage=usage, delegated_by=delegated_by)
        log.debug("bot %s answered in %.1f ms (%d steps)", bot, (time.perf_counter() - started) * 1000, step + 1)
        self.emit(CrewEvent("reply", bot, text, reply))
        return reply

    def _record_route(self, request: LLMRequest, response: Any) -> None:
        if self.services.record_route is None:
            return
        try:
            self.services.record_route(request, response)
        except Exception as exc:  # noqa: BLE001 - routing analytics are optional; the answer is not
            log.warning("the router could not record a call: %s: %s", type(exc).__name__, exc)

    async def _run_tool(self, bot: str, call: ToolCall, tools: dict[str, Any], *, may_delegate: bool) -> str:
        services = self.services
        denied = services.check_tool_call(call=call, context={"room": self.room.id, "bot": bot, "role": bot})
        if denied:
            log.debug("tool %s denied for %s: %s", call.name, bot, denied)
            self._tool_done(call, bot, "denied", denied, 0.0)
            return f"denied: {denied}"
        started = time.perf_counter()
        if call.name == DELEGATE and may_delegate and bot == LEADER:
            result = await self._delegate(call.arguments)
        elif call.name == HAND_OVER and may_delegate and may_hand_over(bot):
            result, task = hand_over(services.rooms, self.room.id, call.arguments)
            if task is not None:
                self.room = services.rooms.get(self.room.id)  # the new owner may have joined
                self._task_changed(task, "handoff")
        elif call.name in tools:
            # A bound tool's call never raises: a failure is an "error: ..." result, masked like any output.
            result = ensure_workspace(services.workspace) or await tools[call.name].call(
                call.arguments, self._tool_context(bot)
            )
            # Scanned before the tool-output store keeps it: a large output may hold credentials too.
            result = self._shrink(services.sanitize(clean_text(result)), bot, call.name)
        else:
            offered = ", ".join(tools) or "none"
            result = f"error: there is no tool named {call.name!r} for you; your tools: {offered}"
        seconds = time.perf_counter() - started
        log.debug("tool %s for %s took %.1f ms", call.name, bot, seconds * 1000)
        failed = result.startswith("error:")
        error = services.sanitize(result.splitlines()[0][len("error:") :].strip()) if failed else None
        self._tool_done(call, bot, "error" if failed else "ok", error, seconds)
        return clip(result)

    def _tool_done(self, call: ToolCall, bot: str, outcome: str, error: str | None, seconds: float) -> None:
        """Tell the work-log hooks; the arguments they see hold references, never credentials."""
        safe = ToolCall(
            id=call.id, name=call.name, arguments=sanitized_arguments(call.arguments, self.services.sanitize)
        )
        self.services.notify(
            "nanofolks_tool_done", call=safe, bot=bot, room=self.room.id, outcome=outcome, error=error, seconds=seconds
        )

    def _task_changed(self, task: Any, event: str) -> None:
        self.services.notify("nanofolks_task_changed", room=self.room.id, task=task, event=event)

    def _tool_context(self, bot: str) -> Any:
        return ToolContext(room=self.room.id, bot=bot, workspace=self.services.workspace)

    def _shrink(self, result: str, bot: str, tool: str) -> str:
        """A large result stored by reference; inline (cut) when the tool-output store fails."""
        store = self.services.tool_outputs
        if store is None:
            return result
        try:
            return store.shrink(result, room=self.room.id, bot=bot, tool=tool)
        except Exception as exc:  # noqa: BLE001 - the store is a convenience; a damaged one must not stop a turn
            warning = f"tool-output store unavailable ({store.path}): {type(exc).__name__}: {exc}"
            if warning not in self.warnings:
                log.warning("%s", warning)
                self.warnings.append(warning)
            return result

    async def _delegate(self, arguments: dict[str, Any]) -> str:
        to = str(arguments.get("to", "")).lower().lstrip("@")
        task = str(arguments.get("task", "")).strip() or self.body
        if to not in ROLES or to == LEADER:
            return f"error: cannot delegate to {to!r}; choose one of {', '.join(r for r in ROLE_ORDER if r != LEADER)}"
        rooms = self.services.rooms
        room_task = None
        if str(self.room.type) != "direct":  # a direct room keeps its one bot; the specialist helps from outside
            if to not in self.room.participants:
                self.room = rooms.add_participants(self.room.id, to)
            # Delegated work shows up as a room task, so progress stays visible (`room task list`).
            room_task = rooms.add_task(self.room.id, task[:120], owner=to)
            # In progress while the specialist works: `room task list` and other rooms' turns see it.
            room_task = rooms.set_task_status(self.room.id, room_task.id, "in_progress")
            self._task_changed(room_task, "created")
        try:
            reply = await asyncio.wait_for(
                self.run_bot(to, brief=task, delegated_by=LEADER), timeout=self.services.delegation_timeout
            )
        except (Exception, asyncio.CancelledError) as exc:
            reason = _failure_reason(to, exc, self.services.delegation_timeout)
            if room_task is not None:
                self._task_changed(rooms.set_task_status(self.room.id, room_task.id, "failed", reason=reason), "failed")
            if not isinstance(exc, NanofolksError | TimeoutError):
                raise  # a bug or an interruption: the task says so, the error still surfaces
            log.warning("delegation to %s failed: %s", to, reason)
            return f"error: {reason}"
        if room_task is not None:
            self._task_changed(rooms.set_task_status(self.room.id, room_task.id, "done"), "done")
        self.delegated.append(reply)
        return f"{reply.name} ({to}) answered:\n{reply.text}"


def _failure_reason(to: str, exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"{to} timed out after {timeout:g} s (agents.defaults.delegationTimeout)"
    if isinstance(exc, asyncio.CancelledError):
        return f"{to} was interrupted before finishing"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{to} could not finish: {text[:300]}"
