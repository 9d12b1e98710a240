"""What ``nanofolks chat`` writes to the terminal: replies (streamed or whole) and a wait counter.

Every text that came from a model, a store or a team file passes through
:func:`nanofolks_core.text.for_terminal` (streamed text through a :class:`TerminalStream`, so
an escape sequence split across two pieces cannot reach the terminal either).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import click

from nanofolks_core.text import TerminalStream, for_terminal, json_for_terminal

if TYPE_CHECKING:
    import asyncio

#: Seconds without any reply before the wait counter appears.
PROGRESS_DELAY = 2.0


class WaitCounter:
    """``waiting for <model>… 12 s`` on stderr while a turn has shown nothing yet.

    Only on a terminal: the line is rewritten in place with ``\\r`` and erased when the reply
    starts, so it never ends up in a pipe, a log or a captured output.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._task: asyncio.Task | None = None
        self._shown = False

    def start(self, label: str) -> None:
        if self.enabled and self._task is None:
            import asyncio  # here: the thin client (chat through a gateway) never needs it

            self._task = asyncio.create_task(self._tick(for_terminal(label)))

    async def _tick(self, label: str) -> None:
        import asyncio

        started = time.monotonic()
        await asyncio.sleep(PROGRESS_DELAY)
        while True:
            click.echo(f"\r{label}… {int(time.monotonic() - started)} s", nl=False, err=True)
            self._shown = True
            await asyncio.sleep(1.0)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._shown:
            click.echo("\r\x1b[K", nl=False, err=True)  # our own erase-line, not model text
            self._shown = False


class ReplyPrinter:
    """Prints a turn as it happens: streamed text for one bot, attributed replies for several."""

    def __init__(self, team: Any, as_json: bool, counter: WaitCounter) -> None:
        self.team = team
        self.as_json = as_json
        self.counter = counter
        self.streaming: str | None = None
        self._stream = TerminalStream()

    def __call__(self, event: Any) -> None:
        if self.as_json:
            return
        if event.kind == "delta":
            self.counter.stop()
            if self.streaming != event.bot:
                self.end_stream()
                character = self.team.character(event.bot)
                click.echo(f"{for_terminal(character.emoji)} {for_terminal(character.name)}: ", nl=False)
                self.streaming = event.bot
                self._stream = TerminalStream()
            click.echo(self._stream.feed(event.text), nl=False)
        elif event.kind == "reply":
            self.counter.stop()
            if self.streaming == event.bot:
                self.end_stream()
                return
            self.end_stream()
            reply = event.reply
            via = " (for the Leader)" if reply.delegated_by else ""
            click.echo(f"{for_terminal(reply.emoji)} {for_terminal(reply.name)}{via}: {for_terminal(reply.text)}\n")

    def end_stream(self) -> None:
        """End a streamed reply's line (printing what was held back of it)."""
        self.counter.stop()
        if self.streaming is not None:
            click.echo(self._stream.flush() + "\n")
            self.streaming = None

    def cancelled(self) -> None:
        """The turn was cancelled (Ctrl-C): end any half-printed reply and say so."""
        self.end_stream()
        click.echo("(cancelled; nothing more from this turn)", err=True)


def print_turn_json(result: Any) -> None:
    """One JSON object per turn (control characters in texts escaped, C1 ones included)."""
    document = {
        "room": result.room,
        "intent": result.intent.kind,
        "dispatch": result.assignment.mode,
        "tier": result.route.tier if result.route else None,
        "warnings": list(result.warnings),
        "replies": [
            {
                "bot": r.bot,
                "name": r.name,
                "text": r.text,
                "model": r.model,
                "delegated_by": r.delegated_by,
                "error": r.error,
            }
            for r in result.replies
        ],
    }
    click.echo(json_for_terminal(json.dumps(document, ensure_ascii=False)))
