"""Tools bots can call, and the shape the core expects of them.

A ``ToolSpec.factory`` returns an object with ``name``, ``description``, ``parameters`` (a JSON
schema) and ``async run(arguments: dict, context: ToolContext) -> str``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import attrs

#: Tool results longer than this are cut before they go back to the model.
MAX_RESULT_CHARS = 16_000


@attrs.frozen
class ToolContext:
    room: str
    bot: str
    workspace: Path
    tool_outputs: Any = None  # ToolOutputStore: where large outputs are kept


class Tool(Protocol):
    name: str
    description: str
    parameters: dict[str, Any]

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str: ...


def tool_schema(tool: Tool) -> dict[str, Any]:
    """OpenAI function-calling shape."""
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
    }


def clip(text: str) -> str:
    if len(text) <= MAX_RESULT_CHARS:
        return text
    return text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS} more characters cut]"


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
