"""Records the crew and a turn share: what a turn reports, and the few services it uses.

They live here, apart from both, so :mod:`nanofolks_core.crew.crew` and
:mod:`nanofolks_core.pipeline.turn` depend on this module and not on each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from nanofolks_core.messages import Usage

if TYPE_CHECKING:
    from nanofolks_core.contracts import RouteDecision
    from nanofolks_core.crew.team import Team
    from nanofolks_core.pipeline.dispatch import Assignment
    from nanofolks_core.pipeline.intent import Intent
    from nanofolks_core.pipeline.window import ContextWindow


@attrs.frozen
class BotReply:
    """One bot's answer in a turn. ``error`` is set (and the text says so) when that bot failed."""

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
    """Everything one user message produced: the replies in order, and how the crew got there."""

    room: str
    replies: tuple[BotReply, ...]
    intent: Intent
    assignment: Assignment
    route: RouteDecision | None = None
    warnings: tuple[str, ...] = ()
    context_tokens: int = 0
    context_window: int = 0
    timings: dict[str, float] = attrs.field(factory=dict)


#: Receives :class:`CrewEvent` s as a turn runs (printing, streaming to a channel).
EventSink = Callable[[CrewEvent], None]


@attrs.frozen(kw_only=True)
class TurnServices:
    """What a turn may use, and nothing more (a turn never reaches back into the crew).

    ``llm.complete(request, on_delta=None)`` calls a model; ``tools`` maps a tool name to a bound
    tool (``.offered_to(role)``, ``.schema``, ``await .call(arguments, context)``, which never
    raises); ``check_tool_call(call, context)`` returns a deny reason or None (the
    ``nanofolks_tool_call_check`` hook); ``record_route(request, response)`` feeds the router's
    analytics; ``tool_outputs`` keeps large tool outputs by reference (may be None);
    ``skills_section`` lists the skills a bot may read with ``read_skill`` ("" without any);
    ``notify(hook_name, **kwargs)`` runs a notification hook (``nanofolks_tool_done`` ...);
    ``delegation_timeout``: seconds a delegated task may take before it is marked failed.
    """

    llm: Any
    window: ContextWindow
    team: Team
    rooms: Any
    tools: Mapping[str, Any]
    workspace: Path
    temperature: float
    max_tool_iterations: int
    sanitize: Callable[[str], str]
    check_tool_call: Callable[..., str | None]
    record_route: Callable[[Any, Any], None] | None = None
    tool_outputs: Any = None
    skills_section: str = ""
    notify: Callable[..., None] = lambda hook_name, **kwargs: None
    delegation_timeout: float = 600.0
