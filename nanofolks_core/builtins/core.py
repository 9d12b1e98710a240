"""The ``core`` plugin: built-in defaults, registered like any other plugin.

Names are unique: a plugin registering the same kind and name is reported as a clash and the
built-in is kept; users pick another team, backend or store by name in config.
"""

from __future__ import annotations

from nanofolks_core.api import MemoryBackendSpec, SecretPatternSpec, SessionStoreSpec, ToolSpec, hookimpl
from nanofolks_core.builtins.teams import DEFAULT_TEAM

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_secret_patterns(register):
    # The formats and their checks live in nanofolks_core/security/patterns.py.
    import attrs

    from nanofolks_core.security.patterns import BUILTIN_FORMATS

    # Constants that tests/core/test_secret_patterns.py builds with validation on; compiling 35
    # regular expressions just to check them again cost every start-up ~4 ms (docs/performance.md).
    with attrs.validators.disabled():
        specs = [
            SecretPatternSpec(name=f.name, summary=f"detects {f.summary}", pattern=f.pattern) for f in BUILTIN_FORMATS
        ]
    for spec in specs:
        register(spec)


@hookimpl(trylast=True)
def nanofolks_before_llm_call(request):
    # The sanitizer as the last line before every model call (nanofolks_core/security/boundary.py).
    from nanofolks_core.security.boundary import mask_request

    return mask_request(request)


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
    # Progressive loading of skills: the prompt names them, this reads one when a bot needs it.
    register(ToolSpec(name="read_skill", summary="Read a skill's instructions", factory=_READ_SKILL))


_READ_SKILL = "nanofolks_core.skills.tool:read_skill"


@hookimpl
def nanofolks_register_memory_backends(register):
    register(
        MemoryBackendSpec(
            name="null", summary="Remembers nothing (memory off)", factory="nanofolks_core.memory:NullMemory"
        )
    )
