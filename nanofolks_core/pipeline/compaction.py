"""Keeping every request inside the model's context window.

Before each model call the pipeline measures the prompt with the provider's token counter
(tiktoken through the provider plugin; an estimate of four characters per token without one):

* at ``warnAt`` (70%) of the window the reply carries a warning;
* at ``triggerAt`` (80%) the older part of the room's history is compacted. Mode ``summary``
  (default) asks the model to summarize it and stores the summary in place of those
  messages (a compare-and-set replace, so concurrent writers lose nothing); mode
  ``token-limit`` keeps only the most recent messages that fit; mode ``off`` does neither;
* in every mode a request is never sent over the window: as a last resort the oldest history
  is left out of that request.

Cuts happen only where a user message starts, so a tool call is never separated from its result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from nanofolks_core.messages import ChatMessage

if TYPE_CHECKING:
    from nanofolks_core.config import CompactionConfig

#: Per-message overhead of the chat format (role, separators), as OpenAI documents it.
MESSAGE_OVERHEAD = 4
DEFAULT_WINDOW = 8192

Counter = Callable[[Sequence[ChatMessage]], int]


def estimate_tokens(messages: Sequence[ChatMessage]) -> int:
    """Four characters per token: only when no provider counter is available."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD + (len(message.content) + 3) // 4
        for call in message.tool_calls:
            total += (len(call.name) + len(str(call.arguments)) + 3) // 4
    return total


def turn_starts(history: Sequence) -> list[int]:
    """Indexes where a user message starts: the only places history may be cut."""
    return [i for i, message in enumerate(history) if message.role == "user"]


def split_for_budget(history: Sequence, cost: Callable[[Sequence], int], budget: int) -> int:
    """The smallest cut index such that ``history[cut:]`` costs at most ``budget`` (cut at turn starts)."""
    for cut in [0, *turn_starts(history)]:
        if cost(history[cut:]) <= budget:
            return cut
    return len(history)


SUMMARY_PROMPT = (
    "Summarize the conversation below for the crew's own memory. Keep every fact, decision, name, number, "
    "open question and promise; drop small talk. Write at most {words} words, as short bullet points.\n\n"
    "{previous}{text}"
)


def summary_request_text(history: Sequence, words: int = 250, previous: str = "") -> str:
    """The summarization prompt; ``previous`` is the summary of what came before this part."""
    lines = []
    for message in history:
        speaker = "user" if message.role == "user" else (getattr(message, "bot", None) or message.role)
        lines.append(f"{speaker}: {message.content}")
    before = f"Summary of the conversation so far:\n{previous}\n\nThe conversation continues:\n" if previous else ""
    return SUMMARY_PROMPT.format(words=words, previous=before, text="\n".join(lines))


def chunk_history(history: Sequence, cost: Callable[[Sequence], int], limit: int) -> list[list]:
    """Consecutive parts of ``history`` that each cost at most ``limit``; a single message too
    long on its own is shortened (the summary then covers its beginning)."""
    import attrs

    chunks: list[list] = [[]]
    for message in history:
        if cost([message]) > limit:
            keep = max(200, int(len(message.content) * limit / max(cost([message]), 1)) - 50)
            message = attrs.evolve(message, content=message.content[:keep] + " [...]")
        if chunks[-1] and cost([*chunks[-1], message]) > limit:
            chunks.append([])
        chunks[-1].append(message)
    return [chunk for chunk in chunks if chunk]


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
        return window - min(self.max_tokens, int(window * 0.15))

    def fit(self, messages: list[ChatMessage], model: str) -> tuple[list[ChatMessage], int]:
        """``messages`` trimmed to fit if needed, and the ``max_tokens`` the reply may use."""
        from nanofolks_core.errors import NanofolksError

        count = self.counter_for(model)
        window = self.window_for(model)
        limit = self.limit(window)
        tokens = count(messages)
        if tokens > limit:
            messages = trim_to(messages, count, limit)
            tokens = count(messages)
            if tokens > limit:
                raise NanofolksError(
                    f"this message is too long for the model's context window ({tokens} tokens, window {window}); "
                    "shorten it, or set agents.defaults.contextWindow for a model with a larger window"
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
