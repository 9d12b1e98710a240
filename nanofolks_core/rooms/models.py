"""What a room and a room task are, and the rules for room ids and participants.

Everything here is pure (no I/O): ``tasks.py`` holds the task changes, ``store.py`` reads and
writes rooms as JSON files.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import attrs

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER
from nanofolks_core.errors import UsageError

#: The crew, in the order the user guide introduces them: the one list, ``crew.roles.ROLE_ORDER``.
CREW_ROLES: tuple[str, ...] = ROLE_ORDER
#: The room every conversation lands in unless a channel is mapped elsewhere.
DEFAULT_ROOM = "general"
#: Ids that cannot be rooms because the store uses the file name for something else.
RESERVED_IDS = frozenset({"channel_mappings"})

#: The one rule for room names (the session store uses it too). Not starting with '-', so a
#: name never looks like a command-line option (``room create -- --help``).
ROOM_ID_RE = re.compile(r"[a-z0-9_][a-z0-9_-]{0,63}")
_TASK_ID_RE = re.compile(r"t[1-9][0-9]*")


class _ChoiceEnum(enum.StrEnum):
    """A lowercase string enum whose ``parse`` turns user input into a member or a UsageError."""

    @classmethod
    def parse(cls, value: object) -> Any:
        """Case-insensitive; ``-`` and spaces read as ``_`` (``"in-progress"`` -> ``in_progress``)."""
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower().replace("-", "_").replace(" ", "_"))
        except ValueError:
            known = ", ".join(member.value for member in cls)
            what = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()  # TaskStatus -> task status
            raise UsageError(f"unknown {what} {value!r}; choose one of: {known}") from None


class RoomType(_ChoiceEnum):
    """What a room is for (see "Room Types" in the user guide)."""

    OPEN = "open"  # general discussion, e.g. #general
    PROJECT = "project"  # a focused workspace for one initiative
    DIRECT = "direct"  # one-on-one with a single bot
    COORDINATION = "coordination"  # the Leader coordinates autonomously


def now_utc() -> datetime:
    """The current time, timezone-aware UTC, to the second (what room files store)."""
    return datetime.now(UTC).replace(microsecond=0)


def suggest_room_id(text: str) -> str:
    """A valid room id close to ``text``: ``"Project Alpha"`` -> ``"project-alpha"``."""
    slug = re.sub(r"[^a-z0-9_]+", "-", text.strip().lower()).strip("-_")[:64].strip("-_")
    return slug if slug and slug not in RESERVED_IDS else "my-room"


class InvalidRoomName(UsageError, ValueError):
    """A room name breaks the naming rule (a ``ValueError`` too, for code that checks names)."""


def validate_room_id(room_id: object) -> str:
    """Return ``room_id`` if it can name a room, else raise ``InvalidRoomName`` suggesting one."""
    if isinstance(room_id, str) and ROOM_ID_RE.fullmatch(room_id):
        if room_id in RESERVED_IDS:
            raise InvalidRoomName(f"{room_id!r} is reserved by nanofolks and cannot name a room; pick another name")
        return room_id
    shown = repr(room_id) if len(repr(room_id)) <= 80 else repr(room_id)[:77] + "..."
    suggestion = suggest_room_id(room_id) if isinstance(room_id, str) else "my-room"
    raise InvalidRoomName(
        f"invalid room name {shown}: use 1-64 characters, each a lowercase letter, digit, '-' or '_', "
        f"not starting with '-' (for example {suggestion!r})"
    )


def normalize_role(role: object) -> str:
    """``"@Researcher"`` -> ``"researcher"``; a name outside the crew is a UsageError."""
    text = role.strip().lstrip("@").lower() if isinstance(role, str) else ""
    if text in CREW_ROLES:
        return text
    close = difflib.get_close_matches(text, CREW_ROLES, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown bot {role!r}.{hint} The crew is: {', '.join(CREW_ROLES)}")


def normalize_roles(roles: Iterable[object]) -> tuple[str, ...]:
    """Normalize each role, keeping the first occurrence's order and dropping repeats."""
    seen: dict[str, None] = {}
    for role in roles:
        seen.setdefault(normalize_role(role), None)
    return tuple(seen)


def check_participants(room_id: str, room_type: RoomType, participants: Iterable[object]) -> tuple[str, ...]:
    """Apply the participant rules and return the participants to store.

    A DIRECT room has exactly one bot. Every other room keeps the Leader (added first when
    missing), because the Leader is who answers a message that mentions nobody.
    """
    bots = normalize_roles(participants)
    if room_type is RoomType.DIRECT:
        if len(bots) != 1:
            shown = ", ".join(bots) or "none"
            raise UsageError(
                f"a direct room has exactly one bot, but {room_id!r} would have {len(bots)} ({shown}); "
                "use a project room to work with several bots"
            )
        return bots
    if LEADER not in bots:
        bots = (LEADER, *bots)
    return bots


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"timestamp {value.isoformat()} has no timezone")
    return value


def parse_timestamp(value: object, what: str) -> datetime:
    """Parse an ISO 8601 timestamp with a timezone from a room file (ValueError otherwise)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an ISO 8601 string, got {value!r}")
    return _aware(datetime.fromisoformat(value))


class TaskStatus(_ChoiceEnum):
    """Where a task stands."""

    TODO = "todo"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    #: The work could not be done (a delegation that failed or timed out); the history says why.
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        """Still waiting for work (not done, not failed)."""
        return self not in (TaskStatus.DONE, TaskStatus.FAILED)


class TaskPriority(_ChoiceEnum):
    """How urgent a task is."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


#: Kinds of task history entry: created (to = first owner), assigned and handoff
#: (from/to = owners), status (from/to = statuses).
TASK_EVENT_KINDS = ("created", "assigned", "handoff", "status")


@attrs.frozen
class TaskEvent:
    """One entry of a task's history. ``from_`` is stored as ``"from"``."""

    kind: str = attrs.field(validator=attrs.validators.in_(TASK_EVENT_KINDS))
    at: datetime
    from_: str | None = None
    to: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "from": self.from_, "to": self.to, "reason": self.reason, "at": self.at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskEvent:
        if not isinstance(data, Mapping) or data.get("kind") not in TASK_EVENT_KINDS:
            raise ValueError(f"invalid task history entry {data!r}")
        for key in ("from", "to", "reason"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"task history {key!r} must be a string or null, got {data[key]!r}")
        return cls(
            kind=data["kind"],
            at=parse_timestamp(data.get("at"), "task history 'at'"),
            from_=data.get("from"),
            to=data.get("to"),
            reason=data.get("reason"),
        )


@attrs.frozen
class Task:
    """A piece of work in a room: ``id`` is short and never reused in that room (``t1``, ``t2`` ...)."""

    id: str
    title: str
    owner: str | None
    status: TaskStatus
    priority: TaskPriority
    due: date | None
    created_at: datetime
    updated_at: datetime
    history: tuple[TaskEvent, ...] = ()

    @property
    def number(self) -> int:
        """The numeric part of the id (``t12`` -> 12), for sorting."""
        return int(self.id[1:])

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "owner": self.owner,
            "status": self.status.value,
            "priority": self.priority.value,
            "due": self.due.isoformat() if self.due else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "history": [event.to_dict() for event in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Task:
        if not isinstance(data, Mapping):
            raise ValueError(f"a task must be a JSON object, got {type(data).__name__}")
        task_id = data.get("id")
        if not isinstance(task_id, str) or not _TASK_ID_RE.fullmatch(task_id):
            raise ValueError(f"invalid task id {task_id!r}")
        title, owner, due = data.get("title"), data.get("owner"), data.get("due")
        if not isinstance(title, str):
            raise ValueError(f"task {task_id}: title must be a string")
        if owner is not None and owner not in CREW_ROLES:
            raise ValueError(f"task {task_id}: owner {owner!r} is not a crew role")
        if due is not None and not isinstance(due, str):
            raise ValueError(f"task {task_id}: due must be a YYYY-MM-DD string or null")
        history = data.get("history", [])
        if not isinstance(history, list):
            raise ValueError(f"task {task_id}: history must be a list")
        return cls(
            id=task_id,
            title=title,
            owner=owner,
            status=TaskStatus(data.get("status")),
            priority=TaskPriority(data.get("priority")),
            due=date.fromisoformat(due) if due else None,
            created_at=parse_timestamp(data.get("created_at"), f"task {task_id} created_at"),
            updated_at=parse_timestamp(data.get("updated_at"), f"task {task_id} updated_at"),
            history=tuple(TaskEvent.from_dict(event) for event in history),
        )


@attrs.frozen
class Room:
    """A room: who is in it, what it is for, and its tasks.

    Rooms are immutable values; change one through ``RoomStore`` so the change is saved.
    ``next_task`` is the number the next task id gets (``t<next_task>``): ids are never reused.
    """

    id: str
    type: RoomType
    participants: tuple[str, ...]
    description: str = ""
    created_at: datetime = attrs.field(factory=now_utc)
    updated_at: datetime = attrs.field(factory=now_utc)
    tasks: tuple[Task, ...] = ()
    next_task: int = 1

    def task(self, task_id: str) -> Task:
        """The task with ``task_id`` (``"t3"``; ``"3"`` and ``"T3"`` work too)."""
        wanted = task_id.strip().lower() if isinstance(task_id, str) else ""
        if wanted.isdigit():
            wanted = f"t{int(wanted)}"
        for task in self.tasks:
            if task.id == wanted:
                return task
        raise UsageError(
            f"no task {task_id!r} in room {self.id!r}; "
            f"see the task ids with `nanofolks room task list --room {self.id}`"
        )

    def task_counts(self) -> dict[str, int]:
        """How many tasks the room has in each status (every status present, zero included)."""
        counts = {status.value: 0 for status in TaskStatus}
        for task in self.tasks:
            counts[task.status.value] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The room as JSON-able data (what ``rooms/<id>.json`` holds, minus the format number)."""
        return {
            "id": self.id,
            "type": self.type.value,
            "participants": list(self.participants),
            "description": self.description,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "next_task": self.next_task,
            "tasks": [task.to_dict() for task in self.tasks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Room:
        """Build a room from ``to_dict`` output; raises ValueError naming what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a room must be a JSON object, got {type(data).__name__}")
        missing = [key for key in ("id", "type", "participants", "created_at", "updated_at") if key not in data]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        room_id = data["id"]
        if not isinstance(room_id, str) or not ROOM_ID_RE.fullmatch(room_id):
            raise ValueError(f"invalid room id {room_id!r}")
        try:
            room_type = RoomType(data["type"])
        except ValueError:
            raise ValueError(f"unknown room type {data['type']!r}") from None
        participants = data["participants"]
        if not isinstance(participants, list) or not all(p in CREW_ROLES for p in participants):
            raise ValueError(f"participants must be a list of crew roles, got {participants!r}")
        tasks = data.get("tasks", [])
        if not isinstance(tasks, list):
            raise ValueError("tasks must be a list")
        description = data.get("description", "")
        if not isinstance(description, str):
            raise ValueError("description must be a string")
        next_task = data.get("next_task", len(tasks) + 1)
        if not isinstance(next_task, int) or next_task < 1:
            raise ValueError(f"next_task must be a positive integer, got {next_task!r}")
        parsed_tasks = tuple(Task.from_dict(task) for task in tasks)
        ids = [task.id for task in parsed_tasks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"task ids repeat: {', '.join(sorted({i for i in ids if ids.count(i) > 1}))}")
        return cls(
            id=room_id,
            type=room_type,
            participants=tuple(dict.fromkeys(participants)),
            description=description,
            created_at=parse_timestamp(data["created_at"], "created_at"),
            updated_at=parse_timestamp(data["updated_at"], "updated_at"),
            tasks=parsed_tasks,
            next_task=next_task,
        )
