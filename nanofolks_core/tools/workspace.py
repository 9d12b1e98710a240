"""Workspace file tools: read, list and write files inside the workspace folder only.

They are written in the two forms any plugin tool uses: ``read_file``, ``list_files`` and
``write_file`` are plain functions (signature and docstring are the schema), and
``read_tool_output`` is a class, because it keeps a handle on the tool-output store.
An error (a missing file, a path outside the workspace) is raised; the core hands it back
to the model as ``error: <Type>: <message>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nanofolks_core.contracts import Services, ToolContext
from nanofolks_core.paths import resolve_inside

MAX_READ_BYTES = 200_000
#: Most characters ``read_tool_output`` returns per call.
MAX_OUTPUT_SLICE = 8000


def _inside(workspace: Path, relative: str) -> Path:
    return resolve_inside(workspace, relative, "the workspace")


def read_file(path: str, context: ToolContext) -> str:
    """Read a text file from the workspace. Path is relative to the workspace folder.

    Args:
        path: the file, relative to the workspace folder
    """
    data = _inside(context.workspace, path).read_bytes()[:MAX_READ_BYTES]
    return data.decode("utf-8", errors="replace")


def list_files(context: ToolContext, path: str = ".") -> str:
    """List files in a workspace folder (relative path, default: the workspace root).

    Args:
        path: the folder, relative to the workspace folder
    """
    folder = _inside(context.workspace, path or ".")
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    return "\n".join(entries) or "(empty)"


def write_file(path: str, content: str, context: ToolContext) -> str:
    """Write a text file in the workspace (creates folders). Path is relative to the workspace.

    Args:
        path: the file, relative to the workspace folder
        content: the whole text of the file
    """
    target = _inside(context.workspace, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content, encoding="utf-8")
    return f"wrote {target.relative_to(context.workspace.resolve())}"


class ReadToolOutput:
    """Reads slices of large tool outputs the crew stored by reference (``tool-output:<ref>``)."""

    description = "Read part of a large tool output that was stored by reference (tool-output:<ref>)."
    parameters = {
        "type": "object",
        "properties": {
            "ref": {"type": "string", "description": "the reference, with or without 'tool-output:'"},
            "offset": {"type": "integer", "description": "first character to read (default 0)"},
            "length": {"type": "integer", "description": f"characters to read (at most {MAX_OUTPUT_SLICE})"},
        },
        "required": ["ref"],
    }

    def __init__(self, *, spec: Any, config: Any, services: Services) -> None:
        from nanofolks_core.pipeline.tool_outputs import ToolOutputStore

        # The same database the crew stores large outputs in (opened on first read).
        self.store = ToolOutputStore(services.data_root / "tool_outputs.db")

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> str:
        ref = str(arguments.get("ref", "")).removeprefix("tool-output:")
        content = self.store.get(ref)
        if content is None:
            raise LookupError(f"no stored tool output {ref!r}")
        offset = max(0, int(arguments.get("offset") or 0))
        length = min(MAX_OUTPUT_SLICE, max(1, int(arguments.get("length") or MAX_OUTPUT_SLICE)))
        return content[offset : offset + length]
