"""``nanofolks chat``: talk to the crew, one message (``-m``) or interactively."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import click

from nanofolks_core.app import App
from nanofolks_core.errors import NanofolksError, UsageError
from nanofolks_core.messages import InboundMessage

pass_app = click.make_pass_decorator(App, ensure=True)

HELP_TEXT = """Commands: /room NAME (switch room), /rooms, /help, /exit.
Mention bots with @leader @researcher @coder @social @creative @auditor, or @all / @crew."""


class _Printer:
    """Prints a turn as it happens: streamed text for one bot, attributed replies for several."""

    def __init__(self, team, as_json: bool) -> None:
        self.team = team
        self.as_json = as_json
        self.streaming: str | None = None

    def __call__(self, event) -> None:
        if self.as_json:
            return
        if event.kind == "delta":
            if self.streaming != event.bot:
                self.end_stream()
                character = self.team.character(event.bot)
                click.echo(f"{character.emoji} {character.name}: ", nl=False)
                self.streaming = event.bot
            click.echo(event.text, nl=False)
        elif event.kind == "reply":
            if self.streaming == event.bot:
                self.end_stream()
                return
            self.end_stream()
            reply = event.reply
            via = " (for the Leader)" if reply.delegated_by else ""
            click.echo(f"{reply.emoji} {reply.name}{via}: {reply.text}\n")

    def end_stream(self) -> None:
        if self.streaming is not None:
            click.echo("\n")
            self.streaming = None


async def _turn(crew, printer: _Printer, text: str, room: str, stream: bool):
    result = await crew.handle(InboundMessage(text=text, room=room, channel="cli"), on_event=printer, stream=stream)
    printer.end_stream()
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if printer.as_json:
        click.echo(
            json.dumps(
                {
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
                },
                ensure_ascii=False,
            )
        )
    return result


def _slash_command(app: App, line: str, room: str) -> str:
    """Run a /command; returns the room to continue in."""
    command, _, argument = line.partition(" ")
    if command == "/help":
        click.echo(HELP_TEXT)
    elif command == "/rooms":
        click.echo(", ".join(r.id for r in app.rooms.list()))
    elif command == "/room":
        if argument.strip():
            room = app.rooms.get(argument.strip()).id
        click.echo(f"(room: {room})")
    else:
        raise UsageError(f"unknown command {command}; type /help for the list")
    return room


async def _session(app: App, message: str | None, room: str, stream: bool, as_json: bool) -> None:
    from nanofolks_core.pipeline import Crew

    crew = Crew.from_app(app)
    for warning in crew.warnings:
        click.echo(f"warning: {warning}", err=True)
    printer = _Printer(crew.team, as_json)
    try:
        if message is not None:
            await _turn(crew, printer, message, room, stream)
            return
        interactive = sys.stdin.isatty()
        if interactive:
            leader = crew.team.character("leader")
            click.echo(f"{leader.emoji} {leader.name}: {leader.greeting}")
            click.echo(f"(room: {room}; /help for commands, /exit or Ctrl-D to leave)\n")
        while True:
            try:
                line = await asyncio.to_thread(input, f"[{room}] you> " if interactive else "")
            except EOFError:
                break
            line = line.strip()
            if not line:
                continue
            if line in ("/exit", "/quit", "exit", "quit"):
                break
            try:
                if line.startswith("/"):
                    room = _slash_command(app, line, room)
                else:
                    await _turn(crew, printer, line, room, stream)
            except NanofolksError as exc:
                # One failed message (a provider hiccup, a typo in /room) must not end the session.
                printer.end_stream()
                click.echo(f"Error: {exc}", err=True)
    finally:
        await crew.aclose()


@click.command()
@click.option("-m", "--message", help="Send one message, print the replies and exit.")
@click.option("-r", "--room", default="general", show_default=True, help="Room to talk in.")
@click.option("--no-stream", is_flag=True, help="Print replies whole instead of streaming them.")
@click.option("--json", "as_json", is_flag=True, help="Print each turn's replies as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Log every pipeline step with its timing to stderr.")
@pass_app
def chat(app: App, message: str | None, room: str, no_stream: bool, as_json: bool, verbose: bool) -> None:
    """Talk to your crew. With -m, send one message; without, chat interactively.

    Without a terminal, messages are read from standard input, one per line.
    """
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
        for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "openai", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    if message is not None and not message.strip():
        raise UsageError("the message is empty; write something after -m")
    app.rooms.get(room)  # a clear error for an unknown room before anything else
    asyncio.run(_session(app, message, room, stream=not no_stream and not as_json, as_json=as_json))
