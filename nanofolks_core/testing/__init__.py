"""The testing kit for nanofolks plugins: a local LLM server, pytest fixtures and shared checks.

Import from here in tests (plugins' own code imports only ``nanofolks_core.api``)::

    from nanofolks_core.testing import FakeLLMServer, Reply, ToolCall, check_team_plugin

It also hands tests the core parts they drive directly (``build_config``, ``structure_section``,
``config_to_dict``, ``ConfigError``, ``main`` - the ``nanofolks`` command as a function - and
``PluginHost``), so a plugin's tests import nothing else from the core.

The fixtures (``nanofolks_home``, ``plugin_host``, ``register_plugin``, ``llm_server``, ``chat``,
``tool_context``, ``plugin_services``, ``cli_runner``) are registered with pytest automatically
when nanofolks is installed. ``ToolCall`` here is a *scripted* call for the fake server (name and
arguments), not the core's ``nanofolks_core.api.ToolCall`` record.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nanofolks_core.cli import main
    from nanofolks_core.config import ConfigError, build_config, structure_section
    from nanofolks_core.config import to_dict as config_to_dict
    from nanofolks_core.plugins import PluginHost
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

# The core's own parts a plugin's tests drive directly, so tests import nothing but this kit and
# ``nanofolks_core.api``: name -> (module, attribute).
_CORE = {
    # Build a whole config from a dict, as ``config.json`` would give it: build_config(raw, path, sections).
    "build_config": ("nanofolks_core.config", "build_config"),
    "ConfigError": ("nanofolks_core.config", "ConfigError"),
    # One config section (a dict in the file's camelCase) into its attrs class:
    # structure_section(raw, cls, path) -> (object or None, issues).
    "structure_section": ("nanofolks_core.config", "structure_section"),
    # A whole config back to the camelCase dict `config show` prints (secrets masked).
    "config_to_dict": ("nanofolks_core.config", "to_dict"),
    # The ``nanofolks`` command as a function: main(argv) -> exit code.
    "main": ("nanofolks_core.cli", "main"),
    # The pluggy host that loads plugins: PluginHost(strict=..., trace=...).
    "PluginHost": ("nanofolks_core.plugins", "PluginHost"),
}


def __getattr__(name: str) -> Any:
    if name in _CORE:
        module, attribute = _CORE[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nanofolks_core.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"nanofolks_core.testing.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ConfigError",
    "HEAVY_MODULES",
    "PluginHost",
    "TEST_MODEL",
    "ChatReply",
    "ChatTurn",
    "FakeLLMServer",
    "Reply",
    "ToolCall",
    "build_config",
    "check_team_plugin",
    "config_to_dict",
    "default_reply_text",
    "heavy_modules_after",
    "main",
    "structure_section",
]
