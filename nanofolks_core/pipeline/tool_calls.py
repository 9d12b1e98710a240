"""Tools in a turn: which a bot is offered, and calling one so that nothing it does can crash the turn.

The crew holds ``tools: dict[str, BoundTool]`` (built by ``nanofolks_core.tools.runtime.build_tool``):
each has ``name``, ``description``, ``schema`` (OpenAI function shape), ``offered_to(role)`` and
``await call(arguments, context) -> str``, which turns any exception into an ``error: ...`` result.
:func:`call_tool` keeps that guarantee for any object handed to the crew as a tool, so a
misbehaving tool is a result the model can read, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER, ROLES

log = logging.getLogger("nanofolks.pipeline")

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
    """The tools a bot in ``role`` is offered: those offered to its role, and those its role lists."""
    listed = ROLES[role].tools if role in ROLES else ()
    return [tool for name, tool in tools.items() if name in listed or tool.offered_to(role)]


def may_delegate(role: str) -> bool:
    return role == LEADER and DELEGATE in ROLES[LEADER].tools


def ensure_workspace(workspace: Path) -> str | None:
    """Create the workspace folder (owner-only) if it is missing; an error text if that fails."""
    try:
        workspace.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        return f"error: the workspace folder {workspace} cannot be created: {exc.strerror or exc}"
    return None


async def call_tool(tool: Any, arguments: dict[str, Any], context: Any) -> str:
    """``await tool.call(arguments, context)``; any exception becomes ``error: <Type>: <message>``."""
    try:
        result = await tool.call(arguments, context)
    except Exception as exc:  # noqa: BLE001 - a tool is third-party code; the model gets the error, the turn goes on
        log.warning("tool %s failed: %s: %s", getattr(tool, "name", "?"), type(exc).__name__, exc, exc_info=True)
        return f"error: {type(exc).__name__}: {exc}"
    return as_text(result)


def clip(text: str) -> str:
    """``text`` cut to :data:`MAX_RESULT_CHARS`, saying how much was cut."""
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS} more characters cut]"


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
