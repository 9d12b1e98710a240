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

from nanofolks_core.api_version import API_VERSION
from nanofolks_core.specs import (
    ChannelSpec,
    ClassifierSpec,
    CommandSpec,
    ConfigSectionSpec,
    MemoryBackendSpec,
    ProviderSpec,
    SecretPatternSpec,
    SecretStoreSpec,
    SessionStoreSpec,
    SkillScannerSpec,
    SkillSpec,
    TeamSpec,
    TierSpec,
    ToolSpec,
    import_object,
)

if TYPE_CHECKING:
    from nanofolks_core.errors import LLMCallDenied, NanofolksError, UsageError
    from nanofolks_core.messages import (
        ChatMessage,
        InboundMessage,
        LLMRequest,
        LLMResponse,
        OutboundMessage,
        ToolCall,
        Usage,
    )
    from nanofolks_core.provider import ProviderAuthError, ProviderError, ProviderNotConfigured
    from nanofolks_core.secret import Secret, SecretUnavailable

#: Marks a function in a plugin module as a hook implementation.
hookimpl = pluggy.HookimplMarker("nanofolks")

# Records used at run time (messages, errors, secrets) are imported on first use, so that
# importing this module from a plugin's entry module during discovery stays cheap.
_LAZY = {
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
    "ChannelSpec",
    "ChatMessage",
    "ClassifierSpec",
    "CommandSpec",
    "ConfigSectionSpec",
    "InboundMessage",
    "LLMCallDenied",
    "LLMRequest",
    "LLMResponse",
    "MemoryBackendSpec",
    "NanofolksError",
    "OutboundMessage",
    "ProviderAuthError",
    "ProviderError",
    "ProviderNotConfigured",
    "ProviderSpec",
    "Secret",
    "SecretPatternSpec",
    "SecretStoreSpec",
    "SecretUnavailable",
    "SessionStoreSpec",
    "SkillScannerSpec",
    "SkillSpec",
    "TeamSpec",
    "TierSpec",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "UsageError",
    "hookimpl",
    "import_object",
]
