"""``nanofolks session``: context usage of a room's conversation, and manual compaction."""

from __future__ import annotations

import asyncio
import json

import click

from nanofolks_core.app import App
from nanofolks_core.text import for_terminal, json_for_terminal

pass_app = click.make_pass_decorator(App, ensure=True)


@click.group()
def session() -> None:
    """Show context usage of a room's conversation, or compact it."""


async def _usage(app: App, room: str) -> dict:
    from nanofolks_core.crew import Crew

    crew = Crew.from_app(app)
    try:
        room_id = app.rooms.get(room).id
        tokens, window = await crew.context_usage(room_id)
        model = crew.default_model()
        counted = getattr(crew.llm.provider_for(model), "count_tokens", None) is not None
    finally:
        await crew.aclose()
    settings = app.config.compaction
    return {
        "room": room_id,
        "messages": len(app.sessions.read(room_id)),
        "tokens": tokens,
        "window": window,
        "percent": round(100 * tokens / window, 1),
        "model": model,
        "counting": "tokenizer" if counted else "estimate",
        "compaction": {"mode": settings.mode, "warnAt": settings.warn_at, "triggerAt": settings.trigger_at},
    }


@session.command("status")
@click.option("-r", "--room", default="general", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status(app: App, room: str, as_json: bool) -> None:
    """Tokens the next request would use out of the model's window, and messages stored."""
    data = asyncio.run(_usage(app, room))
    if as_json:
        click.echo(json_for_terminal(json.dumps(data)))
        return
    click.echo(for_terminal(f"room {data['room']}: {data['messages']} messages stored"))
    click.echo(
        for_terminal(f"context: {data['tokens']} / {data['window']} tokens ({data['percent']}%) for {data['model']}")
        + ("" if data["counting"] == "tokenizer" else " (estimated: the provider has no tokenizer)")
    )
    click.echo(
        f"compaction: {data['compaction']['mode']}, warns at {data['compaction']['warnAt']:.0%}, "
        f"compacts at {data['compaction']['triggerAt']:.0%}"
    )


async def _compact(app: App, room: str) -> tuple[int, int, int]:
    from nanofolks_core.crew import Crew

    crew = Crew.from_app(app)
    try:
        return await crew.compact_room(app.rooms.get(room).id)
    finally:
        await crew.aclose()


@session.command("compact")
@click.option("-r", "--room", default="general", show_default=True)
@pass_app
def compact(app: App, room: str) -> None:
    """Summarize the older part of a room's history now (it is done automatically at 80%)."""
    folded, before, after = asyncio.run(_compact(app, room))
    if not folded:
        click.echo(for_terminal(f"nothing to compact in {room}: the history already fits the keep budget"))
        return
    click.echo(for_terminal(f"compacted {room}: {folded} messages summarized; context {before} -> {after} tokens"))
