"""Counting tokens when the provider cannot: the estimate every window check falls back to.

Kept apart from the pipeline so the model client (``llm.py``) and the context window share it
without either importing the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nanofolks_core.messages import ChatMessage

#: Per-message overhead of the chat format (role, separators), as OpenAI documents it.
MESSAGE_OVERHEAD = 4
#: The window assumed for a model whose provider does not say (and no ``contextWindow`` is set).
DEFAULT_WINDOW = 8192

#: ``count(messages) -> tokens``
Counter = Callable[[Sequence[ChatMessage]], int]


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """Four characters per token: only when no provider counter is available."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD + (len(message.content) + 3) // 4
        for call in message.tool_calls:
            total += (len(call.name) + len(str(call.arguments)) + 3) // 4
    return total
