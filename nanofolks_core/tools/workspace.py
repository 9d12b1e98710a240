"""Workspace file tools: read, list and write files inside the workspace folder only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nanofolks_core.pipeline.tools import ToolContext

MAX_READ_BYTES = 200_000


def _inside(workspace: Path, relative: str) -> Path:
    root = workspace.resolve()
    path = (root / relative).resolve()
    if path != root and root not in path.parents:
        raise PermissionError(f"{relative!r} is outside the workspace")
    return path


class ReadFile:
    name = "read_file"
    description = "Read a text file from the workspace. Path is relative to the workspace folder."
    parameters = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        try:
            path = _inside(context.workspace, str(arguments.get("path", "")))
            data = path.read_bytes()[:MAX_READ_BYTES]
        except (OSError, PermissionError) as exc:
            return f"error: {exc}"
        return data.decode("utf-8", errors="replace")


class ListFiles:
    name = "list_files"
    description = "List files in a workspace folder (relative path, default: the workspace root)."
    parameters = {"type": "object", "properties": {"path": {"type": "string"}}}

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        try:
            folder = _inside(context.workspace, str(arguments.get("path") or "."))
            entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
        except (OSError, PermissionError) as exc:
            return f"error: {exc}"
        return "\n".join(entries) or "(empty)"


class WriteFile:
    name = "write_file"
    description = "Write a text file in the workspace (creates folders). Path is relative to the workspace."
    parameters = {
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        try:
            path = _inside(context.workspace, str(arguments.get("path", "")))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(str(arguments.get("content", "")), encoding="utf-8")
        except (OSError, PermissionError) as exc:
            return f"error: {exc}"
        return f"wrote {path.relative_to(context.workspace.resolve())}"


class ReadToolOutput:
    name = "read_tool_output"
    description = "Read part of a large tool output that was stored by reference (tool-output:<ref>)."
    parameters = {
        "type": "object",
        "properties": {"ref": {"type": "string"}, "offset": {"type": "integer"}, "length": {"type": "integer"}},
        "required": ["ref"],
    }

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        ref = str(arguments.get("ref", "")).removeprefix("tool-output:")
        content = context.tool_outputs.get(ref) if context.tool_outputs is not None else None
        if content is None:
            return f"error: no stored tool output {ref!r}"
        offset = max(0, int(arguments.get("offset") or 0))
        length = min(8000, max(1, int(arguments.get("length") or 8000)))
        return content[offset : offset + length]
