"""Records that travel through the message pipeline and the pipeline-event hooks.

All are frozen attrs records; hooks that want to change one return ``attrs.evolve(...)``.
"""

from __future__ import annotations

import time
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class ToolCall:
    """A tool call requested by a model."""

    id: str
    name: str
    arguments: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class ChatMessage:
    """One message of an LLM conversation, in OpenAI's chat shape."""

    role: str  # "system" | "user" | "assistant" | "tool"
    content: str = ""
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=tuple)
    tool_call_id: str | None = None


@attrs.frozen(kw_only=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen(kw_only=True)
class LLMRequest:
    """What the core asks a provider for. ``metadata`` carries room, bot and tier for hooks."""

    model: str
    messages: tuple[ChatMessage, ...] = attrs.field(converter=tuple)
    tools: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=tuple)
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class LLMResponse:
    """A provider's answer."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = attrs.field(default=(), converter=tuple)
    model: str = ""
    usage: Usage = attrs.field(factory=Usage)
    cost: float | None = None
    finish_reason: str | None = None


@attrs.frozen(kw_only=True)
class InboundMessage:
    """A message from a person, as a channel received it."""

    text: str
    channel: str = "cli"
    sender: str = "user"
    room: str = "general"
    chat_id: str | None = None
    ts: float = attrs.field(factory=time.time)
    metadata: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class OutboundMessage:
    """A reply on its way to a channel; ``bot`` says which crew member speaks."""

    text: str
    bot: str
    channel: str = "cli"
    room: str = "general"
    chat_id: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
