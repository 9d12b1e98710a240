"""The ``core`` plugin: built-in defaults, registered like any other plugin.

Names are unique: a plugin registering the same kind and name is reported as a clash and the
built-in is kept; users pick another team, backend or store by name in config.
"""

from __future__ import annotations

from nanofolks_core.api import MemoryBackendSpec, SecretPatternSpec, SessionStoreSpec, ToolSpec, hookimpl
from nanofolks_core.builtins.teams import DEFAULT_TEAM

NANOFOLKS_API = "1.0"

# Credentials the sanitizer masks before text reaches a model, a log or a session file.
# Prefixed tokens first: they are unambiguous.
_SECRET_PATTERNS = {
    "openrouter-key": r"sk-or-v1-[A-Za-z0-9]{16,}",
    "anthropic-key": r"sk-ant-[A-Za-z0-9_\-]{16,}",
    "openai-key": r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}",
    "groq-key": r"gsk_[A-Za-z0-9]{20,}",
    "github-token": r"gh[pousr]_[A-Za-z0-9]{20,}",
    "slack-token": r"xox[abposr]-[A-Za-z0-9\-]{10,}",
    "google-api-key": r"AIza[0-9A-Za-z_\-]{35}",
    "aws-access-key": r"AKIA[0-9A-Z]{16}",
    "telegram-bot-token": r"\b\d{8,10}:[A-Za-z0-9_\-]{35}\b",
    "jwt": r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}",
    "private-key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]+?-----END [A-Z ]*PRIVATE KEY-----",
    "bearer-token": r"(?i)\bbearer\s+[A-Za-z0-9_\-\.=]{16,}",
    "url-password": r"(?i)\b[a-z][a-z0-9+\-.]*://[^\s:/@]+:[^\s@/]+@",
}


@hookimpl
def nanofolks_register_secret_patterns(register):
    for name, pattern in _SECRET_PATTERNS.items():
        register(SecretPatternSpec(name=name, summary=f"masks {name.replace('-', ' ')}s", pattern=pattern))


@hookimpl
def nanofolks_register_session_stores(register):
    register(
        SessionStoreSpec(
            name="file",
            summary="Room history in JSON files with compare-and-set (default)",
            factory="nanofolks_core.builtins.core:file_session_store",
        )
    )


def file_session_store(*, spec, config, services):
    """The file store, built like every runtime; ``config`` is the core's ``storage`` section."""
    from nanofolks_core.sessions import FileSessionStore

    return FileSessionStore(services.data_root / "sessions", use_cas=getattr(config, "use_cas_storage", True))


@hookimpl
def nanofolks_register_teams(register):
    register(DEFAULT_TEAM)


#: The built-in tools, in the forms any plugin tool uses (nanofolks_core/tools/workspace.py).
#: name -> (summary, factory, roles offered to)
_TOOLS = {
    "read_file": (
        "Read a text file from the workspace",
        "read_file",
        ("leader", "researcher", "coder", "social", "auditor"),
    ),
    "list_files": ("List files in a workspace folder", "list_files", ("leader", "researcher", "coder", "auditor")),
    "write_file": ("Write a text file in the workspace", "write_file", ("coder", "creative")),
    "read_tool_output": ("Read a large tool output stored by reference", "ReadToolOutput", ("*",)),
}


@hookimpl
def nanofolks_register_tools(register):
    for name, (summary, attr, roles) in _TOOLS.items():
        register(ToolSpec(name=name, summary=summary, factory=f"nanofolks_core.tools.workspace:{attr}", roles=roles))


@hookimpl
def nanofolks_register_memory_backends(register):
    register(
        MemoryBackendSpec(
            name="null", summary="Remembers nothing (memory off)", factory="nanofolks_core.memory:NullMemory"
        )
    )
