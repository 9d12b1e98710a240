"""Tools in a turn: which a bot is offered, the Leader's ``delegate``, and cutting long results.

The crew holds ``tools: dict[str, BoundTool]`` (built by ``nanofolks_core.tools.runtime.build_tool``):
each has ``name``, ``description``, ``schema`` (OpenAI function shape), ``offered_to(role)`` and
``await call(arguments, context) -> str``, which never raises: an exception is an ``error: ...``
result the model can read, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER

#: Tool results longer than this are cut before they go back to the model.
MAX_RESULT_CHARS = 16_000

DELEGATE = "delegate"
DELEGATE_TOOL = {
    "type": "function",
    "function": {
        "name": DELEGATE,
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


def offered_tools(tools: Mapping[str, Any], role: str) -> list[Any]:
    """The registered tools a bot in ``role`` is offered: exactly those whose ``ToolSpec.roles`` name it."""
    return [tool for tool in tools.values() if tool.offered_to(role)]


def may_delegate(role: str) -> bool:
    """Whether a bot in ``role`` is offered ``delegate`` (the Leader only; not a registered tool)."""
    return role == LEADER


def ensure_workspace(workspace: Path) -> str | None:
    """Create the workspace folder (owner-only) if it is missing; an error text if that fails."""
    try:
        workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return f"error: the workspace folder {workspace} cannot be created: {exc.strerror or exc}"
    return None


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_RESULT_CHARS`, saying how much was cut."""
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS} more characters cut]"
