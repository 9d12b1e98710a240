"""The ``core`` plugin: built-in defaults, registered like any other plugin.

Other plugins may replace any of these by registering a spec of the same kind and name.
"""

from __future__ import annotations

from nanofolks_core.api import MemoryBackendSpec, SecretPatternSpec, SessionStoreSpec, TeamSpec, ToolSpec, hookimpl

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
            factory="nanofolks_core.sessions:FileSessionStore",
        )
    )


#: The neutral team used when no other is chosen or the chosen one is unavailable.
DEFAULT_TEAM = TeamSpec(
    name="default",
    title="Default Crew",
    summary="Neutral, friendly and professional: the crew without a costume",
    resource="nanofolks_core.builtins:default_team.toml",
)


@hookimpl
def nanofolks_register_teams(register):
    register(DEFAULT_TEAM)


@hookimpl
def nanofolks_register_tools(register):
    # Which roles may use a tool is said by the role (crew/roles.py) or by ToolSpec.roles.
    for name, summary in (
        ("read_file", "Read a text file from the workspace"),
        ("list_files", "List files in a workspace folder"),
        ("write_file", "Write a text file in the workspace"),
    ):
        class_name = "".join(part.title() for part in name.split("_"))
        register(ToolSpec(name=name, summary=summary, factory=f"nanofolks_core.tools.workspace:{class_name}"))
    register(
        ToolSpec(
            name="read_tool_output",
            summary="Read a large tool output stored by reference",
            factory="nanofolks_core.tools.workspace:ReadToolOutput",
            roles=("leader", "researcher", "coder", "social", "creative", "auditor"),
        )
    )


@hookimpl
def nanofolks_register_memory_backends(register):
    register(
        MemoryBackendSpec(
            name="null", summary="Remembers nothing (memory off)", factory="nanofolks_core.memory:NullMemory"
        )
    )
