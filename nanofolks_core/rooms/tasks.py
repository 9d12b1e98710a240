"""Room task changes: add, change status, assign and hand off, each recorded in the task history.

Pure functions from a ``Room`` to a changed ``Room`` (no I/O); ``RoomStore`` runs them under
the room's file lock and saves the result. Every check happens before anything changes, so a
rejected change leaves the room as it was.
"""

from __future__ import annotations

import re
from datetime import date, datetime

import attrs

from nanofolks_core.errors import UsageError

from .models import Room, RoomType, Task, TaskEvent, TaskPriority, TaskStatus, normalize_role

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
TITLE_MAX = 500


def parse_due(value: str | date | None) -> date | None:
    """``"2025-01-15"`` -> ``date(2025, 1, 15)``; an impossible or malformed date is a UsageError."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if not _DATE_RE.fullmatch(text):
        raise UsageError(f"invalid due date {value!r}: use YYYY-MM-DD, for example 2025-01-15")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"invalid due date {value!r}: {exc}; use YYYY-MM-DD, for example 2025-01-15") from None


def _clean_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    return reason.strip() or None


def _with_owner_in_room(room: Room, owner: str) -> Room:
    """A task owner works in the room: bring them in, as an @mention would.

    A direct room is one-on-one, so only its own bot can own its tasks.
    """
    if owner in room.participants:
        return room
    if room.type is RoomType.DIRECT:
        raise UsageError(
            f"{room.id!r} is a direct room with {room.participants[0]} only, so {owner} cannot own its tasks; "
            "use a project room to work with several bots"
        )
    return attrs.evolve(room, participants=(*room.participants, owner))


def _replace_task(room: Room, task: Task, at: datetime) -> Room:
    tasks = tuple(task if existing.id == task.id else existing for existing in room.tasks)
    return attrs.evolve(room, tasks=tasks, updated_at=at)


def add_task(
    room: Room,
    title: str,
    *,
    owner: str | None,
    priority: str | TaskPriority,
    due: str | date | None,
    at: datetime,
) -> tuple[Room, Task]:
    """Add a ``todo`` task with the next id; an owner not yet in the room joins it."""
    clean_title = " ".join(title.split()) if isinstance(title, str) else ""
    if not clean_title:
        raise UsageError('a task needs a title, e.g. `nanofolks room task add --room general "Ship landing page"`')
    if len(clean_title) > TITLE_MAX:
        raise UsageError(f"a task title is at most {TITLE_MAX} characters (got {len(clean_title)})")
    owner_role = normalize_role(owner) if owner is not None else None
    # The stored counter normally decides; the max guards against a hand-edited file.
    number = max([room.next_task, *(existing.number + 1 for existing in room.tasks)])
    task = Task(
        id=f"t{number}",
        title=clean_title,
        owner=owner_role,
        status=TaskStatus.TODO,
        priority=TaskPriority.parse(priority),
        due=parse_due(due),
        created_at=at,
        updated_at=at,
        history=(TaskEvent(kind="created", at=at, to=owner_role),),
    )
    if owner_role is not None:
        room = _with_owner_in_room(room, owner_role)
    room = attrs.evolve(room, tasks=(*room.tasks, task), next_task=number + 1, updated_at=at)
    return room, task


def set_task_status(
    room: Room, task_id: str, status: str | TaskStatus, *, at: datetime, reason: str | None = None
) -> tuple[Room, Task]:
    """Move a task to ``status`` (``reason``, e.g. why it failed, goes in the history); setting the
    status it already has changes nothing."""
    task = room.task(task_id)
    new_status = TaskStatus.parse(status)
    if task.status is new_status:
        return room, task
    event = TaskEvent(kind="status", at=at, from_=task.status.value, to=new_status.value, reason=_clean_reason(reason))
    task = attrs.evolve(task, status=new_status, updated_at=at, history=(*task.history, event))
    return _replace_task(room, task, at), task


def assign_task(room: Room, task_id: str, owner: str, *, reason: str | None, at: datetime) -> tuple[Room, Task]:
    """Give a task to ``owner`` (any task, owned or not); assigning its current owner changes nothing."""
    task = room.task(task_id)
    new_owner = normalize_role(owner)
    if task.owner == new_owner:
        return room, task
    room = _with_owner_in_room(room, new_owner)
    event = TaskEvent(kind="assigned", at=at, from_=task.owner, to=new_owner, reason=_clean_reason(reason))
    task = attrs.evolve(task, owner=new_owner, updated_at=at, history=(*task.history, event))
    return _replace_task(room, task, at), task


def handoff_task(room: Room, task_id: str, to_owner: str, *, reason: str | None, at: datetime) -> tuple[Room, Task]:
    """Pass an owned task from its owner to ``to_owner``, recording who handed it to whom."""
    task = room.task(task_id)
    new_owner = normalize_role(to_owner)
    if task.owner is None:
        raise UsageError(
            f"task {task.id} has no owner to hand it off; give it one with "
            f"`nanofolks room task assign --room {room.id} {task.id} {new_owner}`"
        )
    if task.owner == new_owner:
        raise UsageError(f"task {task.id} is already owned by {new_owner}")
    room = _with_owner_in_room(room, new_owner)
    event = TaskEvent(kind="handoff", at=at, from_=task.owner, to=new_owner, reason=_clean_reason(reason))
    task = attrs.evolve(task, owner=new_owner, updated_at=at, history=(*task.history, event))
    return _replace_task(room, task, at), task


def filter_tasks(room: Room, *, owner: str | None = None, status: str | TaskStatus | None = None) -> list[Task]:
    """The room's tasks in id order, optionally only one owner's and/or one status."""
    owner_role = normalize_role(owner) if owner is not None else None
    wanted_status = TaskStatus.parse(status) if status is not None else None
    return [
        task
        for task in sorted(room.tasks, key=lambda t: t.number)
        if (owner_role is None or task.owner == owner_role) and (wanted_status is None or task.status is wanted_status)
    ]
