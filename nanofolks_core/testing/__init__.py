"""The testing kit for nanofolks plugins: a local LLM server, pytest fixtures and shared checks.

Import from here in tests (plugins' own code imports only ``nanofolks_core.api``)::

    from nanofolks_core.testing import FakeLLMServer, Reply, ToolCall, check_team_plugin

The fixtures (``nanofolks_home``, ``plugin_host``, ``register_plugin``, ``llm_server``, ``chat``,
``tool_context``, ``plugin_services``, ``cli_runner``) are registered with pytest automatically
when nanofolks is installed. ``ToolCall`` here is a *scripted* call for the fake server (name and
arguments), not the core's ``nanofolks_core.api.ToolCall`` record.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nanofolks_core.testing.chat import TEST_MODEL, ChatReply, ChatTurn
    from nanofolks_core.testing.checks import HEAVY_MODULES, check_team_plugin, heavy_modules_after
    from nanofolks_core.testing.llm_server import FakeLLMServer, Reply, ToolCall, default_reply_text

# Imported on first use, so `python -m nanofolks_core.testing.llm_server` does not import the
# server module twice (once through this package, once as __main__).
_LAZY = {
    "TEST_MODEL": "chat",
    "ChatReply": "chat",
    "ChatTurn": "chat",
    "HEAVY_MODULES": "checks",
    "check_team_plugin": "checks",
    "heavy_modules_after": "checks",
    "FakeLLMServer": "llm_server",
    "Reply": "llm_server",
    "ToolCall": "llm_server",
    "default_reply_text": "llm_server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nanofolks_core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nanofolks_core.testing.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "HEAVY_MODULES",
    "TEST_MODEL",
    "ChatReply",
    "ChatTurn",
    "FakeLLMServer",
    "Reply",
    "ToolCall",
    "check_team_plugin",
    "default_reply_text",
    "heavy_modules_after",
]
