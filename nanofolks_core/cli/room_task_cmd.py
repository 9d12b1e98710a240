"""``nanofolks room task``: a room's tasks, their owners and handoffs."""

from __future__ import annotations

import json
from datetime import datetime

import click

from nanofolks_core.app import App
from nanofolks_core.cli.table import print_table
from nanofolks_core.rooms import DEFAULT_ROOM, Room, RoomStore, Task, TaskPriority

pass_app = click.make_pass_decorator(App, ensure=True)

_PRIORITIES = [p.value for p in TaskPriority]


def local_time(moment: datetime) -> str:
    """``moment`` in the user's time zone, to the minute (how room commands show times)."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def _echo_participants_change(before: Room, after: Room) -> None:
    added = [bot for bot in after.participants if bot not in before.participants]
    if added:
        click.echo(f"{', '.join(added)} joined room {after.id!r} to work on this task.")


_room_option = click.option(
    "--room", "room_id", default=DEFAULT_ROOM, show_default=True, metavar="ROOM", help="The room the task belongs to."
)


def _task_line(task: Task) -> tuple[str, ...]:
    return (
        task.id,
        task.status.value,
        task.priority.value,
        task.owner or "-",
        task.due.isoformat() if task.due else "-",
        task.title,
    )


@click.group("task")
def task() -> None:
    """Track a room's tasks, owners and handoffs."""


@task.command("list")
@_room_option
@click.option("--owner", help="Only tasks owned by this bot.")
@click.option("--status", help="Only tasks with this status (todo, in_progress, blocked, done, failed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def task_list(app: App, room_id: str, owner: str | None, status: str | None, as_json: bool) -> None:
    """List the tasks of a room."""
    found = app.rooms.tasks(room_id, owner=owner, status=status)
    if as_json:
        click.echo(json.dumps([t.to_dict() for t in found], indent=2, ensure_ascii=False))
        return
    if not found:
        if owner or status:
            click.echo(f"No tasks in {room_id!r} match those filters.")
        else:
            click.echo(f'No tasks in {room_id!r} yet. Add one: nanofolks room task add --room {room_id} "title"')
        return
    print_table(("ID", "STATUS", "PRIORITY", "OWNER", "DUE", "TITLE"), [_task_line(t) for t in found])


@task.command("add")
@_room_option
@click.option("--owner", help="The bot that owns it (joins the room if needed).")
@click.option("--priority", type=click.Choice(_PRIORITIES, case_sensitive=False), default="medium", show_default=True)
@click.option("--due", metavar="YYYY-MM-DD", help="Due date.")
@click.argument("title")
@pass_app
def task_add(app: App, room_id: str, owner: str | None, priority: str, due: str | None, title: str) -> None:
    """Add a task called TITLE to a room."""
    store: RoomStore = app.rooms
    before = store.get(room_id)
    added = store.add_task(room_id, title, owner=owner, priority=priority, due=due)
    click.echo(
        f"Added task {added.id} to {room_id!r}: {added.title}" + (f" (owner {added.owner})" if added.owner else "")
    )
    _echo_participants_change(before, store.get(room_id))


@task.command("status")
@_room_option
@click.argument("task_id")
@click.argument("status")
@click.option("--reason", help="Why (kept in the task history), e.g. why it failed.")
@pass_app
def task_status(app: App, room_id: str, task_id: str, status: str, reason: str | None) -> None:
    """Set a task's STATUS: todo, in_progress, blocked, done or failed."""
    changed = app.rooms.set_task_status(room_id, task_id, status, reason=reason)
    click.echo(f"Task {changed.id} is now {changed.status.value}.")


@task.command("assign")
@_room_option
@click.argument("task_id")
@click.argument("owner")
@click.option("--reason", help="Why (kept in the task history).")
@pass_app
def task_assign(app: App, room_id: str, task_id: str, owner: str, reason: str | None) -> None:
    """Assign task TASK_ID to OWNER."""
    store: RoomStore = app.rooms
    before = store.get(room_id)
    changed = store.assign_task(room_id, task_id, owner, reason=reason)
    click.echo(f"Task {changed.id} is assigned to {changed.owner}.")
    _echo_participants_change(before, store.get(room_id))


@task.command("handoff")
@_room_option
@click.argument("task_id")
@click.argument("owner")
@click.option("--reason", help="Why (kept in the task history).")
@pass_app
def task_handoff(app: App, room_id: str, task_id: str, owner: str, reason: str | None) -> None:
    """Hand task TASK_ID from its owner to OWNER."""
    store: RoomStore = app.rooms
    before = store.get(room_id)
    previous = before.task(task_id).owner
    changed = store.handoff_task(room_id, task_id, owner, reason=reason)
    click.echo(f"Task {changed.id} handed off from {previous} to {changed.owner}.")
    _echo_participants_change(before, store.get(room_id))


@task.command("history")
@_room_option
@click.argument("task_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def task_history(app: App, room_id: str, task_id: str, as_json: bool) -> None:
    """Show what happened to a task: status changes, assignments, handoffs."""
    current = app.rooms.task(room_id, task_id)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in current.history], indent=2, ensure_ascii=False))
        return
    click.echo(f"{current.id}: {current.title}  [{current.status.value}, owner {current.owner or '-'}]")
    for event in current.history:
        if event.kind == "created":
            what = "created" + (f", owner {event.to}" if event.to else "")
        elif event.kind == "status":
            what = f"status {event.from_} -> {event.to}"
        else:
            what = f"{event.kind} {event.from_ or '-'} -> {event.to}"
        click.echo(f"  {local_time(event.at)}  {what}" + (f"  ({event.reason})" if event.reason else ""))
