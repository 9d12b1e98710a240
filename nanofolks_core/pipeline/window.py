"""Keeping every request inside the model's context window.

Before each model call the pipeline measures the prompt with the provider's token counter
(tiktoken through the provider plugin; :func:`~nanofolks_core.tokens.estimate_tokens` without
one). A request is never sent over the window: as a last resort the oldest history is left out
of that request only (the room's stored history is never touched here). Cuts keep a tool call
and its results together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import ChatMessage
from nanofolks_core.tokens import Counter

if TYPE_CHECKING:
    from nanofolks_core.config import CompactionConfig

#: Share of the window kept free for the reply when ``maxTokens`` is larger.
REPLY_SHARE = 0.15


class MessageTooLong(NanofolksError):
    """The user's message cannot fit the model's window even with no history at all."""


class ContextWindow:
    """Measures prompts and makes every request fit the model's window."""

    def __init__(
        self,
        *,
        config: CompactionConfig,
        max_tokens: int,
        window_for: Callable[[str], int],
        counter_for: Callable[[str], Counter],
    ) -> None:
        self.config = config
        self.max_tokens = max_tokens
        self.window_for = window_for
        self.counter_for = counter_for

    def measure(self, messages: Sequence[ChatMessage], model: str) -> tuple[int, int]:
        """(prompt tokens, window)."""
        return self.counter_for(model)(messages), self.window_for(model)

    def limit(self, window: int) -> int:
        """Most prompt tokens a request may carry: the window less room for the reply."""
        return window - min(self.max_tokens, int(window * REPLY_SHARE))

    def check_fits(self, system: ChatMessage, text: str, model: str) -> None:
        """Raise :class:`MessageTooLong` when ``text`` alone (with the system prompt) cannot fit.

        Called before anything is stored, so a message no model call could carry is rejected,
        not kept in the room's history to break every later turn.
        """
        count = self.counter_for(model)
        window = self.window_for(model)
        limit = self.limit(window)
        own = count([ChatMessage(role="user", content=text)])
        if count([system]) + own <= limit:
            return
        room_left = max(0, limit - count([system]))
        raise MessageTooLong(
            f"this message is too long for the model's context window: about {own} tokens "
            f"({len(text)} characters), but {model} has a {window}-token window and at most {room_left} tokens "
            "are left for a message after the crew's instructions and room for the reply. Nothing was stored. "
            "Send a shorter message or split it; put long material in a file in the workspace and ask the crew "
            "to read it; or, for a model with a larger window, set agents.defaults.contextWindow in config.json."
        )

    def fit(self, messages: list[ChatMessage], model: str) -> tuple[list[ChatMessage], int]:
        """``messages`` trimmed to fit if needed, and the ``max_tokens`` the reply may use."""
        count = self.counter_for(model)
        window = self.window_for(model)
        limit = self.limit(window)
        tokens = count(messages)
        if tokens > limit:
            messages = trim_to(messages, count, limit)
            tokens = count(messages)
            if tokens > limit:
                raise MessageTooLong(
                    f"this request is too long for the model's context window ({tokens} tokens, window {window}); "
                    "shorten the message, or set agents.defaults.contextWindow for a model with a larger window"
                )
        return messages, max(1, min(self.max_tokens, window - tokens))


def _rounds(messages: Sequence[ChatMessage]) -> list[list[int]]:
    """Index groups that must stay together: a user message and everything up to the next one
    (replies, tool calls and their results)."""
    groups: list[list[int]] = []
    for index, message in enumerate(messages):
        if message.role == "user" or not groups:
            groups.append([index])
        else:
            groups[-1].append(index)
    return groups


def trim_to(messages: list[ChatMessage], count: Counter, limit: int) -> list[ChatMessage]:
    """Drop the oldest history groups (never the system prompt or the current user message)
    until the request fits; a tool call and its results always go together."""
    system, rest = messages[:1], messages[1:]
    last_user = max((i for i, m in enumerate(rest) if m.role == "user"), default=0)
    history, current = rest[:last_user], rest[last_user:]
    groups = _rounds(history)
    while groups and count(system + [history[i] for g in groups for i in g] + current) > limit:
        groups.pop(0)
    kept = [history[i] for g in groups for i in g]
    # Still too long: the tool loop of this very turn has grown; drop its oldest rounds.
    head, *tail_rounds = _split_tool_rounds(current)
    while tail_rounds and count(system + kept + head + [m for r in tail_rounds for m in r]) > limit:
        tail_rounds.pop(0)
    return system + kept + head + [m for r in tail_rounds for m in r]


def _split_tool_rounds(current: list[ChatMessage]) -> list[list[ChatMessage]]:
    """[user message], then one list per (assistant tool calls + their results)."""
    parts: list[list[ChatMessage]] = [current[:1]]
    for message in current[1:]:
        if message.role == "assistant":
            parts.append([message])
        else:
            parts[-1].append(message)
    return parts
