"""The public surface for plugin authors. Import from here only.

A plugin's entry module imports the stdlib, this module and attrs — nothing heavy::

    from nanofolks_core.api import ChannelSpec, hookimpl

    NANOFOLKS_API = "1.0"

    @hookimpl
    def nanofolks_register_channels(register):
        register(ChannelSpec(name="echo", summary="Echoes", factory="nanofolks_echo.channel:EchoChannel"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from nanofolks_core import validators  # attrs validators for config classes (light: attrs only)
from nanofolks_core.api_version import API_VERSION

# Shared by every chat-app channel (attrs only: cheap enough for an entry module).
from nanofolks_core.channels import DEFAULT_MESSAGE_LIMIT, ChannelConfig, sender_allowed, split_message
from nanofolks_core.specs import (
    ChannelSpec,
    CommandSpec,
    ConfigSectionSpec,
    MemoryBackendSpec,
    ProviderSpec,
    RouterSpec,
    RoutineSpec,
    SecretPatternSpec,
    SecretStoreSpec,
    ServiceSpec,
    SessionStoreSpec,
    SkillScannerSpec,
    SkillSpec,
    TeamSpec,
    TierSpec,
    ToolSpec,
    import_object,
)

if TYPE_CHECKING:
    from nanofolks_core.app import App
    from nanofolks_core.atomic import atomic_write_text, file_lock, move_aside, private_dir, private_file
    from nanofolks_core.cli.table import print_table
    from nanofolks_core.contracts import (
        AskLLM,
        Channel,
        Check,
        CrewAccess,
        Finding,
        Inbox,
        LLMAccess,
        MemoryBackend,
        MemoryEvent,
        MemoryHit,
        Provider,
        RouteDecision,
        Router,
        SecretStore,
        Services,
        SessionStore,
        SkillScanner,
        Tool,
        ToolContext,
    )
    from nanofolks_core.errors import LLMCallDenied, NanofolksError, StorageError, UsageError
    from nanofolks_core.gateway.services import InProcessCrew
    from nanofolks_core.gateway.state import running_gateway
    from nanofolks_core.masking import mask_secrets
    from nanofolks_core.messages import (
        ChatMessage,
        InboundMessage,
        LLMRequest,
        LLMResponse,
        OutboundMessage,
        ToolCall,
        Usage,
    )
    from nanofolks_core.paths import config_path, data_root
    from nanofolks_core.provider import ProviderAuthError, ProviderError, ProviderNotConfigured
    from nanofolks_core.secret import Secret, SecretUnavailable
    from nanofolks_core.sessions import SessionMessage
    from nanofolks_core.text import clean_text, for_terminal

#: Marks a function in a plugin module as a hook implementation.
hookimpl = pluggy.HookimplMarker("nanofolks")

_CONTRACTS = (
    "AskLLM Channel Check CrewAccess Finding Inbox LLMAccess MemoryBackend MemoryEvent MemoryHit Provider "
    "RouteDecision Router SecretStore Services SessionStore SkillScanner Tool ToolContext"
).split()

# Records used at run time (contracts, messages, errors, secrets) are imported on first use, so
# that importing this module from a plugin's entry module during discovery stays cheap.
_LAZY = {
    **dict.fromkeys(_CONTRACTS, "nanofolks_core.contracts"),
    # The application object, for plugin CLI commands (``click.make_pass_decorator(App, ensure=True)``).
    "App": "nanofolks_core.app",
    "StorageError": "nanofolks_core.errors",
    "SessionMessage": "nanofolks_core.sessions",
    # Text policy: lone surrogates become U+FFFD; apply to text before storing or embedding it.
    "clean_text": "nanofolks_core.text",
    # Removes escape sequences and control characters: apply to stored/model text before printing it.
    "for_terminal": "nanofolks_core.text",
    # Masks URL credentials, secret query parameters and bearer tokens in a message or log line.
    "mask_secrets": "nanofolks_core.masking",
    # Safe files in a plugin's data folder: crash-safe replace, an exclusive lock between
    # processes, owner-only folders and files, a damaged file renamed out of the way (never
    # deleted) to ``<name>.damaged-<UTC time>`` (the same helpers the core's stores use).
    "atomic_write_text": "nanofolks_core.atomic",
    "file_lock": "nanofolks_core.atomic",
    "move_aside": "nanofolks_core.atomic",
    "private_dir": "nanofolks_core.atomic",
    "private_file": "nanofolks_core.atomic",
    # The core CLI's table printer, for plugin commands that list things: print_table(headers, rows).
    "print_table": "nanofolks_core.cli.table",
    # CrewAccess for CLI commands when no gateway runs: ``async with InProcessCrew(app) as crew``.
    "InProcessCrew": "nanofolks_core.gateway.services",
    # The gateway running for a data folder (its gateway.json), or None: ``running_gateway(data_root)``.
    "running_gateway": "nanofolks_core.gateway.state",
    "config_path": "nanofolks_core.paths",
    "data_root": "nanofolks_core.paths",
    "ChatMessage": "nanofolks_core.messages",
    "InboundMessage": "nanofolks_core.messages",
    "LLMRequest": "nanofolks_core.messages",
    "LLMResponse": "nanofolks_core.messages",
    "OutboundMessage": "nanofolks_core.messages",
    "ToolCall": "nanofolks_core.messages",
    "Usage": "nanofolks_core.messages",
    "LLMCallDenied": "nanofolks_core.errors",
    "NanofolksError": "nanofolks_core.errors",
    "UsageError": "nanofolks_core.errors",
    "Secret": "nanofolks_core.secret",
    "SecretUnavailable": "nanofolks_core.secret",
    "ProviderError": "nanofolks_core.provider",
    "ProviderAuthError": "nanofolks_core.provider",
    "ProviderNotConfigured": "nanofolks_core.provider",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'nanofolks_core.api' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


__all__ = [
    "API_VERSION",
    "App",
    "AskLLM",
    "Channel",
    "ChannelConfig",
    "ChannelSpec",
    "DEFAULT_MESSAGE_LIMIT",
    "ChatMessage",
    "Check",
    "CommandSpec",
    "ConfigSectionSpec",
    "CrewAccess",
    "Finding",
    "InProcessCrew",
    "InboundMessage",
    "Inbox",
    "LLMAccess",
    "LLMCallDenied",
    "LLMRequest",
    "LLMResponse",
    "MemoryBackend",
    "MemoryBackendSpec",
    "MemoryEvent",
    "MemoryHit",
    "NanofolksError",
    "OutboundMessage",
    "Provider",
    "ProviderAuthError",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderSpec",
    "RouteDecision",
    "Router",
    "RouterSpec",
    "RoutineSpec",
    "Secret",
    "SecretPatternSpec",
    "SecretStore",
    "SecretStoreSpec",
    "SecretUnavailable",
    "ServiceSpec",
    "Services",
    "SessionMessage",
    "SessionStore",
    "SessionStoreSpec",
    "SkillScanner",
    "SkillScannerSpec",
    "SkillSpec",
    "StorageError",
    "TeamSpec",
    "TierSpec",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolSpec",
    "Usage",
    "UsageError",
    "atomic_write_text",
    "clean_text",
    "config_path",
    "data_root",
    "for_terminal",
    "file_lock",
    "hookimpl",
    "sender_allowed",
    "split_message",
    "import_object",
    "mask_secrets",
    "move_aside",
    "print_table",
    "private_dir",
    "private_file",
    "running_gateway",
    "validators",
]
