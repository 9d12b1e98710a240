"""``nanofolks room``: create rooms, invite bots, read a room's history and track its tasks."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from nanofolks_core.app import App
from nanofolks_core.cli.room_task_cmd import local_time, task
from nanofolks_core.cli.table import print_table
from nanofolks_core.errors import NanofolksError, UsageError
from nanofolks_core.rooms import (
    CREW_ROLES,
    DEFAULT_ROOM,
    Room,
    RoomStore,
    RoomType,
    normalize_roles,
)

pass_app = click.make_pass_decorator(App, ensure=True)

_ROOM_TYPES = [t.value for t in RoomType]
_SPEAKER = {"user": "you", "system": "system", "tool": "tool"}


def _split_bots(values: tuple[str, ...]) -> list[str]:
    """``("researcher,coder", "creative")`` -> ``["researcher", "coder", "creative"]``."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _message_count(app: App, room_id: str) -> int | None:
    """How many messages the room's history holds; None when the history cannot be read."""
    from nanofolks_core.sessions import SessionCorruptError

    try:
        return len(app.sessions.read(room_id))
    except SessionCorruptError:
        return None


def _room_summary(room: Room) -> dict[str, Any]:
    data = room.to_dict()
    del data["tasks"], data["next_task"]
    return data | {"task_counts": room.task_counts()}


@click.group()
def room() -> None:
    """Create rooms, invite bots, read a room's history and track its tasks.

    \b
    A room is a shared conversation for some of your crew: `general` always exists
    (it starts with the Leader only; a bot you @mention in a room joins it). Create
    project rooms and invite the bots you need:
      nanofolks room create project-alpha --bots researcher,coder
      nanofolks room task add --room project-alpha --owner coder "Ship landing page"
    """


@room.command("create")
@click.argument("name")
@click.option(
    "--type",
    "room_type",
    type=click.Choice(_ROOM_TYPES, case_sensitive=False),
    default="project",
    show_default=True,
    help="open, project, direct (one bot) or coordination.",
)
@click.option(
    "--bots",
    multiple=True,
    metavar="BOT[,BOT...]",
    help=f"Bots in the room besides the Leader ({', '.join(CREW_ROLES[1:])}).",
)
@click.option("--description", default="", help="What the room is for.")
@pass_app
def create(app: App, name: str, room_type: str, bots: tuple[str, ...], description: str) -> None:
    """Create a room.

    NAME is what you will call it everywhere: lowercase letters, digits, '-' and '_'
    (e.g. project-alpha).
    """
    kind = RoomType.parse(room_type)
    wanted = _split_bots(bots)
    if kind is not RoomType.DIRECT:
        participants = ["leader", *wanted]
    else:
        participants = wanted or ["leader"]
    new = app.rooms.create(name, type=kind, participants=participants, description=description)
    click.echo(f"Created room {new.id!r} ({new.type.value}) with {', '.join(new.participants)}.")
    if new.type is not RoomType.DIRECT:
        click.echo(
            f"Invite bots with `nanofolks room invite {new.id} BOT`; add tasks with "
            f'`nanofolks room task add --room {new.id} "title"`.'
        )


@room.command("invite")
@click.argument("name")
@click.argument("bots", nargs=-1, required=True)
@pass_app
def invite(app: App, name: str, bots: tuple[str, ...]) -> None:
    """Invite BOTS (researcher, coder, ...) to room NAME."""
    store: RoomStore = app.rooms
    before = store.get(name)
    after = store.invite(name, *_split_bots(bots))
    requested = normalize_roles(_split_bots(bots))
    added = [bot for bot in after.participants if bot not in before.participants]
    already = [bot for bot in requested if bot in before.participants]
    if added:
        click.echo(f"Invited {', '.join(added)} to {after.id!r}.")
    if already:
        click.echo(f"Already in {after.id!r}: {', '.join(already)}.")
    click.echo(f"Participants: {', '.join(after.participants)}")


@room.command("remove")
@click.argument("name")
@click.argument("bots", nargs=-1, required=True)
@pass_app
def remove(app: App, name: str, bots: tuple[str, ...]) -> None:
    """Remove BOTS from room NAME (the Leader stays)."""
    after = app.rooms.remove(name, *_split_bots(bots))
    click.echo(
        f"Removed {', '.join(normalize_roles(_split_bots(bots)))} from {after.id!r}. "
        f"Participants: {', '.join(after.participants)}"
    )


def _chat_address(address: str) -> tuple[str, str]:
    channel, sep, chat = address.partition(":")
    if not sep or not channel.strip() or not chat.strip():
        raise UsageError(f"expected CHANNEL:CHAT_ID (e.g. telegram:123456789), got {address!r}")
    return channel.strip().lower(), chat.strip()


@room.command("link")
@click.argument("name")
@click.argument("address", metavar="CHANNEL:CHAT_ID")
@pass_app
def link(app: App, name: str, address: str) -> None:
    """Continue chat CHAT_ID of CHANNEL in room NAME (chats are in 'general' until linked).

    The chat id is the one the channel reports (a Telegram chat id, a Slack channel id ...);
    the gateway's log names it for every message it answers.
    """
    channel, chat = _chat_address(address)
    room_id = app.rooms.get(name).id
    app.rooms.map_channel(channel, chat, room_id)
    click.echo(f"{channel}:{chat} now talks in room {room_id!r}.")
    try:
        installed = app.registry.names("channel")
    except NanofolksError:
        return  # a broken config is reported by the commands that need it
    if channel not in installed:
        click.echo(f"note: no channel named {channel!r} is installed (installed: {', '.join(installed) or 'none'})")


@room.command("unlink")
@click.argument("address", metavar="CHANNEL:CHAT_ID")
@pass_app
def unlink(app: App, address: str) -> None:
    """Send chat CHAT_ID of CHANNEL back to the default room."""
    channel, chat = _chat_address(address)
    before = app.rooms.room_for_channel(channel, chat)
    app.rooms.unmap_channel(channel, chat)
    if before == DEFAULT_ROOM:
        click.echo(f"{channel}:{chat} was not linked; it talks in {DEFAULT_ROOM!r}.")
    else:
        click.echo(f"{channel}:{chat} talks in {DEFAULT_ROOM!r} again (was {before!r}).")


@room.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, name: str, as_json: bool) -> None:
    """Show a room: type, bots, tasks, messages, chats."""
    store: RoomStore = app.rooms
    current = store.get(name)
    count = _message_count(app, current.id)
    channels = store.channels_for(current.id)
    if as_json:
        data = current.to_dict() | {
            "task_counts": current.task_counts(),
            "message_count": count,
            "channels": [{"channel": channel, "chat_id": chat} for channel, chat in channels],
        }
        del data["next_task"]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    counts = current.task_counts()
    click.echo(f"{current.id}  ({current.type.value})")
    if current.description:
        click.echo(f"  description:  {current.description}")
    click.echo(f"  participants: {', '.join(current.participants)}")
    click.echo(f"  created:      {local_time(current.created_at)}")
    by_status = ", ".join(f"{number} {status}" for status, number in counts.items())
    click.echo(f"  tasks:        {len(current.tasks)} ({by_status})")
    click.echo(f"  messages:     {count if count is not None else 'history unreadable, see `room history`'}")
    if channels:
        click.echo(f"  chats:        {', '.join(f'{channel}:{chat}' for channel, chat in channels)}")


@room.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_rooms(app: App, as_json: bool) -> None:
    """List your rooms (general first)."""
    found = app.rooms.scan()
    if as_json:
        click.echo(json.dumps([_room_summary(r) for r in found.rooms], indent=2, ensure_ascii=False))
    else:
        print_table(
            ("ROOM", "TYPE", "PARTICIPANTS", "OPEN TASKS", "DESCRIPTION"),
            [
                (r.id, r.type.value, ",".join(r.participants), sum(t.status.is_open for t in r.tasks), r.description)
                for r in found.rooms
            ],
        )
    for problem in found.problems:
        click.echo(f"warning: {problem}", err=True)
    if found.problems:
        raise click.exceptions.Exit(1)


@room.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option("--keep-history", is_flag=True, help="Keep the room's message history.")
@pass_app
def delete(app: App, name: str, yes: bool, keep_history: bool) -> None:
    """Delete a room with its tasks.

    Its message history goes too, unless --keep-history is given.
    """
    store: RoomStore = app.rooms
    if name == DEFAULT_ROOM:
        raise UsageError(f"{DEFAULT_ROOM!r} is the default room and cannot be deleted")
    target = store.get(name)
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"deleting room {name!r} needs confirmation: pass --yes (there is no terminal to ask on)")
        what = f"{len(target.tasks)} task(s)" + ("" if keep_history else " and its message history")
        click.confirm(f"Delete room {name!r} with {what}?", abort=True)
    store.delete(name)
    if not keep_history:
        app.sessions.delete(name)
    click.echo(f"Deleted room {name!r}" + (" (history kept)." if keep_history else " and its history."))


@room.command("history")
@click.argument("name")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Show only the most recent N messages (0 = all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def history(app: App, name: str, limit: int, as_json: bool) -> None:
    """Show the messages of room NAME, oldest first.

    Every message stays in the history: where the crew summarized older messages to fit the
    model's context window, the summary is shown as a marked entry among them.
    """
    from nanofolks_core.sessions import SessionCorruptError

    current = app.rooms.get(name)
    try:
        everything = app.sessions.read(current.id)
    except SessionCorruptError as exc:
        raise NanofolksError(
            f"cannot read the history of room {current.id!r}: {exc}; run `nanofolks doctor --repair`"
        ) from None
    messages = everything[-limit:] if limit else everything
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in messages], indent=2, ensure_ascii=False))
        return
    if not messages:
        click.echo(f"No messages in room {current.id!r} yet.")
        return
    hidden = len(everything) - len(messages)
    if hidden:
        click.echo(f"({hidden} earlier message(s) not shown; --limit 0 shows all)", err=True)
    for message in messages:
        _echo_message(message)


def _echo_message(message: Any) -> None:
    """One history entry: time, speaker, text (made safe for the terminal); summaries marked."""
    from nanofolks_core.text import for_terminal

    stamp = datetime.fromtimestamp(message.ts).strftime("%Y-%m-%d %H:%M")
    text = for_terminal(message.content)
    if message.meta.get("summary"):
        covers = message.meta.get("covers")
        what = f"{covers} earlier messages" if isinstance(covers, int) else "earlier messages"
        click.echo(f"{stamp}  ── summary of {what} (the model's view starts here) ──")
        for line in text.splitlines():
            click.echo(f"{' ' * (len(stamp) + 2)}{line}")
        return
    if message.role == "assistant":
        speaker = message.bot or "assistant"
    else:
        speaker = _SPEAKER.get(message.role, message.role)
    speaker = for_terminal(speaker)
    first, *rest = text.splitlines() or [""]
    click.echo(f"{stamp}  {speaker}: {first}")
    indent = " " * (len(stamp) + 2 + len(speaker) + 2)
    for line in rest:
        click.echo(f"{indent}{line}")


# Tasks live in their own module; they are `nanofolks room task ...`.
room.add_command(task)
