"""The public surface for plugin authors. Import from here only.

A plugin's entry module imports the stdlib, this module and attrs — nothing heavy::

    from nanofolks_core.api import ChannelSpec, hookimpl

    NANOFOLKS_API = "1.0"

    @hookimpl
    def nanofolks_register_channels(register):
        register(ChannelSpec(name="echo", summary="Echoes", factory="nanofolks_echo.channel:EchoChannel"))
"""

from __future__ import annotations

import pluggy

from nanofolks_core.api_version import API_VERSION
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
from nanofolks_core.secret import Secret
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

#: Marks a function in a plugin module as a hook implementation.
hookimpl = pluggy.HookimplMarker("nanofolks")

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
    "ProviderSpec",
    "Secret",
    "SecretPatternSpec",
    "SecretStoreSpec",
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
