"""The testing kit for nanofolks plugins: a local LLM server, pytest fixtures and shared checks.

Import from here in tests (plugins' own code imports only ``nanofolks_core.api``)::

    from nanofolks_core.testing import FakeLLMServer, Reply, ToolCall, check_team_plugin

The fixtures (``nanofolks_home``, ``plugin_host``, ``register_plugin``, ``llm_server``, ``chat``,
``tool_context``, ``plugin_services``, ``cli_runner``) are registered with pytest automatically
when nanofolks is installed. Everything here is stdlib-only on import.
"""

from nanofolks_core.testing.chat import TEST_MODEL, ChatReply, ChatTurn
from nanofolks_core.testing.checks import HEAVY_MODULES, check_team_plugin, heavy_modules_after
from nanofolks_core.testing.llm_server import FakeLLMServer, Reply, ToolCall, default_reply_text

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
