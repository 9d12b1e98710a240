"""Compaction: what the model sees of a long room, never what the room keeps.

A room's history is append-only; compaction changes only the model's view of it:

* at ``warnAt`` (70%) of the window the reply carries a warning;
* at ``triggerAt`` (80%) the older part of the view is compacted. Mode ``summary`` (default)
  asks the model to summarize it and APPENDS the summary to the room as a ``system`` message
  with meta ``{"summary": True, "covers": N, "until": <id>}``: it stands for the room's first N
  messages, up to and including the message ``until``. The model's view then starts from the
  latest summary: that summary, then every message after ``until``. ``room history`` still
  shows every message, and where each summary sits. Mode ``token-limit`` leaves out the oldest
  messages of the request only; mode ``off`` does neither;
* in every mode a request is never sent over the window (:mod:`nanofolks_core.pipeline.window`).

Cuts happen only where a user message starts, so a tool call is never separated from its result.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import ChatMessage, LLMRequest
from nanofolks_core.pipeline.context import history_messages

if TYPE_CHECKING:
    from nanofolks_core.config import CompactionConfig
    from nanofolks_core.crew.team import Team
    from nanofolks_core.pipeline.turn import Turn
    from nanofolks_core.pipeline.window import ContextWindow

log = logging.getLogger("nanofolks.pipeline")


def is_summary(message: Any) -> bool:
    return bool(message.meta.get("summary"))


def model_view(history: Sequence) -> tuple[list[str], list]:
    """(summaries, messages): what the model sees of ``history`` (oldest first).

    The view starts from the latest summary: its text, then the messages after the last one it
    covers. A summary from before history was append-only (no ``until``) was stored in place of
    what it covered, so the view is the messages after it.
    """
    latest = next((i for i in range(len(history) - 1, -1, -1) if is_summary(history[i])), None)
    if latest is None:
        return [], [m for m in history if not is_summary(m)]
    summary = history[latest]
    until = summary.meta.get("until")
    if until is None:
        start = latest + 1
    else:
        # Not found: the covered messages are all older than what was read, so all of it is newer.
        start = next((i + 1 for i in range(latest - 1, -1, -1) if history[i].id == until), 0)
    return [summary.content], [m for m in history[start:] if not is_summary(m)]


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
SUMMARY_SYSTEM = "You write faithful, compact summaries."


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
    chunks: list[list] = [[]]
    for message in history:
        if cost([message]) > limit:
            keep = max(200, int(len(message.content) * limit / max(cost([message]), 1)) - 50)
            message = attrs.evolve(message, content=message.content[:keep] + " [...]")
        if chunks[-1] and cost([*chunks[-1], message]) > limit:
            chunks.append([])
        chunks[-1].append(message)
    return [chunk for chunk in chunks if chunk]


class Compaction:
    """Warns and compacts per ``compaction`` settings; stores summaries by appending them."""

    def __init__(self, *, config: CompactionConfig, window: ContextWindow, llm: Any, sessions: Any, team: Team) -> None:
        self.config = config
        self.window = window
        self.llm = llm
        self.sessions = sessions
        self.team = team

    async def check(self, turn: Turn, bot: str) -> tuple[list[str], int, int]:
        """Warn at warnAt, compact at triggerAt. Returns (warnings, tokens, window)."""
        settings = self.config
        tokens, window = self.window.measure(turn.messages_for(bot), turn.model)
        warnings = []
        if tokens >= settings.trigger_at * window and settings.mode != "off":
            try:
                await self.compact(turn, bot)
            except NanofolksError as exc:
                # The request is still made to fit (window.fit); only the summary is missing.
                log.warning("compaction of %s failed: %s", turn.room.id, exc)
                warnings.append(f"could not compact this room now ({exc}); the oldest turns are left out instead")
            tokens, window = self.window.measure(turn.messages_for(bot), turn.model)
        if tokens >= settings.warn_at * window:
            warnings.append(
                f"context is {tokens / window:.0%} full ({tokens} of {window} tokens); "
                f"older turns are compacted at {settings.trigger_at:.0%}"
            )
        return warnings, tokens, window

    async def compact(self, turn: Turn, bot: str) -> int:
        """Compact ``turn``'s view of its room now. Returns how many messages were folded away."""
        count = self.window.counter_for(turn.model)
        window = self.window.window_for(turn.model)
        fixed = count(turn.messages_for(bot)[:1]) + count([ChatMessage(role="user", content=turn.text)])
        keep_budget = max(0, int(window * self.config.keep_share) - fixed)

        def cost(messages: Sequence) -> int:
            return count(history_messages(messages, bot, self.team))

        if self.config.mode == "token-limit":
            cut = split_for_budget(turn.history, cost, keep_budget)
            turn.set_view(turn.summaries, turn.history[cut:])
            return cut
        return await self._summarize(turn, cost, keep_budget)

    async def _summarize(self, turn: Turn, cost: Callable[[Sequence], int], keep_budget: int) -> int:
        from nanofolks_core.sessions import SessionMessage

        room = turn.room.id
        full = self.sessions.read(room)
        summaries, view = model_view(full)
        cut = split_for_budget(view, cost, keep_budget)
        old, kept = view[:cut], view[cut:]
        if not old:
            return 0
        window = self.window.window_for(turn.model)
        started = time.perf_counter()
        # Every folded message must be in some summary request, and each request must fit the
        # window: summarize chunk by chunk, carrying the summary so far into the next request.
        text = summaries[0] if summaries else ""
        for chunk in chunk_history(old, cost, int(window * 0.5)):
            response = await self.llm.complete(
                LLMRequest(
                    model=turn.model,
                    messages=(
                        ChatMessage(role="system", content=SUMMARY_SYSTEM),
                        ChatMessage(role="user", content=summary_request_text(chunk, previous=text)),
                    ),
                    max_tokens=min(800, int(window * 0.1)),
                    temperature=0.2,
                    metadata={"room": room, "purpose": "compaction"},
                )
            )
            text = response.content.strip() or text
        turn.llm_seconds += time.perf_counter() - started
        if not text:
            # An empty summary would silently drop the folded turns from the model's view.
            raise NanofolksError(f"the model {turn.model} answered the summary request with no text")
        last = old[-1]
        covers = sum(1 for m in full[: next(i for i, m in enumerate(full) if m.id == last.id) + 1] if not is_summary(m))
        summary = SessionMessage(
            role="system", content=text, meta={"summary": True, "covers": covers, "until": last.id}
        )
        # Appended, never replacing anything: the room keeps every message; only the view moves.
        self.sessions.append(room, summary)
        turn.set_view([text], kept)
        log.debug("compacted %s: %d messages summarized (%d covered in all), %d kept", room, cut, covers, len(kept))
        return cut
