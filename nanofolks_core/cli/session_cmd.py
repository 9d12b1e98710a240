"""``nanofolks session``: how much of the model's context a room's conversation uses."""

from __future__ import annotations

import json

import click

from nanofolks_core.app import App

pass_app = click.make_pass_decorator(App, ensure=True)

#: Used when neither config nor the provider knows the model's window.
DEFAULT_WINDOW = 8192


def _estimate_tokens(text: str) -> int:
    # About four characters per token for English; compaction (tiktoken) counts exactly.
    return (len(text) + 3) // 4


@click.group()
def session() -> None:
    """Show context usage of a room's conversation."""


@session.command("status")
@click.option("-r", "--room", default="general", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def status(app: App, room: str, as_json: bool) -> None:
    """Messages stored, and tokens the next request would use out of the model's window."""
    from nanofolks_core.pipeline.orchestrator import HISTORY_LIMIT

    room_id = app.rooms.get(room).id
    history = app.sessions.read(room_id)
    recent = history[-HISTORY_LIMIT:]
    tokens = sum(_estimate_tokens(m.content) + 4 for m in recent)
    window = app.config.agents.defaults.context_window or DEFAULT_WINDOW
    data = {
        "room": room_id,
        "messages": len(history),
        "messages_in_context": len(recent),
        "tokens": tokens,
        "window": window,
        "percent": round(100 * tokens / window, 1),
        "model": app.config.agents.defaults.model,
        "counting": "estimate",
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(f"room {room_id}: {data['messages']} messages stored, {data['messages_in_context']} in context")
    click.echo(f"context: {tokens} / {window} tokens ({data['percent']}%, estimated) for {data['model'] or 'no model'}")
