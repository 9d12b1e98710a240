"""Rooms on disk, safe for several processes (CLI, gateway, channels) changing them at once.

Layout under ``<data root>/rooms/``::

    <room id>.json           one room: type, participants, description, tasks ("format": 1)
    channel_mappings.json    (channel, chat id) -> room id, so a room continues across apps
    .locks/<file>.lock       flock targets, one per file above; never deleted

Every change is a read-modify-write done while holding an exclusive ``flock`` on that file's
lock, so two processes inviting bots or adding tasks to one room never lose each other's
change. The new content is written with ``atomic_write_text`` (unique temp file, fsync,
rename), so a crash leaves the old file or the new one and readers need no lock. When one
operation needs two locks it always takes the room's before the mappings', so it cannot
deadlock. A lock file is never deleted: deleting one that others wait on would split the lock.

A file that cannot be read is reported with its path (``RoomFileError``), never replaced;
``nanofolks doctor --repair`` moves it aside and rebuilds the room. Folders are 0700, files
0600; a read-only or full data folder is a ``StorageError`` naming the folder, with nothing
half-written.

The file format and the locks live in ``files.py``; this module holds the rules for changing rooms.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TypeVar

import attrs

from nanofolks_core.errors import StorageError, UsageError

from . import files
from . import tasks as task_rules
from .files import MAPPINGS_NAME, RoomFileError
from .models import (
    DEFAULT_ROOM,
    LEADER,
    RESERVED_IDS,
    Room,
    RoomType,
    Task,
    TaskEvent,
    TaskPriority,
    TaskStatus,
    check_participants,
    normalize_roles,
    now_utc,
    validate_room_id,
)

DESCRIPTION_MAX = 500

T = TypeVar("T")


@attrs.frozen
class RoomScan:
    """What ``RoomStore.scan`` found: the readable rooms and an error per unreadable file."""

    rooms: list[Room]
    problems: list[RoomFileError]


class RoomStore:
    """The rooms under ``root`` (normally ``<data root>/rooms``). See the module docstring.

    ``general`` always exists: it is created (OPEN, Leader only) the first time it is used.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ rooms

    def path_for(self, room_id: str) -> Path:
        """The file that holds room ``room_id``."""
        return self.root / f"{validate_room_id(room_id)}.json"

    def get(self, room_id: str) -> Room:
        """The room ``room_id``; an unknown name is a UsageError that says how to create it."""
        room = self.get_or_none(room_id)
        if room is None:
            raise self._no_such_room(room_id)
        return room

    def get_or_none(self, room_id: str) -> Room | None:
        """The room ``room_id``, or None if there is no such room (``general`` always exists)."""
        path = self.path_for(room_id)
        room = files.read_room(path)
        if room is None and room_id == DEFAULT_ROOM:
            room = self._ensure_general()
        return room

    def create(
        self,
        room_id: str,
        type: RoomType | str = RoomType.PROJECT,
        participants: tuple[str, ...] | list[str] = (LEADER,),
        description: str = "",
    ) -> Room:
        """Create a room. The Leader is added unless it is a DIRECT room; an existing id is an error."""
        path = self.path_for(room_id)
        room_type = RoomType.parse(type)
        bots = check_participants(room_id, room_type, participants)
        text = self._clean_description(description)
        with files.locked(self.root, path.name):
            if path.exists():
                raise UsageError(
                    f"a room named {room_id!r} already exists; see it with `nanofolks room show {room_id}`"
                )
            now = now_utc()
            room = Room(id=room_id, type=room_type, participants=bots, description=text, created_at=now, updated_at=now)
            files.write_room(path, room)
        return room

    def scan(self, *, create_general: bool = True) -> RoomScan:
        """Every room (``general`` first, then by id) plus a RoomFileError per unreadable file.

        ``create_general=False`` only reads (``nanofolks doctor`` without ``--repair`` writes nothing).
        """
        if create_general:
            self._ensure_general()
        rooms, problems = [], []
        for path in sorted(self.root.glob("*.json")):
            if path.stem in RESERVED_IDS or path.name.startswith("."):
                continue
            try:
                room = files.read_room(path)
            except RoomFileError as exc:
                problems.append(exc)
                continue
            if room is not None:  # deleted since the glob
                rooms.append(room)
        rooms.sort(key=lambda r: (r.id != DEFAULT_ROOM, r.id))
        return RoomScan(rooms, problems)

    def list(self) -> list[Room]:
        """Every room, ``general`` first; raises RoomFileError if any room file is unreadable."""
        found = self.scan()
        if found.problems:
            raise found.problems[0]
        return found.rooms

    def invite(self, room_id: str, *roles: str) -> Room:
        """Add bots to a room (those already in it are left alone) and return the room."""
        if not roles:
            raise UsageError(f"name at least one bot to invite to {room_id!r}")
        wanted = normalize_roles(roles)

        def change(room: Room) -> tuple[Room, Room]:
            merged = (*room.participants, *(r for r in wanted if r not in room.participants))
            if merged == room.participants:
                return room, room
            bots = check_participants(room.id, room.type, merged)
            new = attrs.evolve(room, participants=bots, updated_at=now_utc())
            return new, new

        return self._change(room_id, change)

    def add_participants(self, room_id: str, *roles: str) -> Room:
        """Make sure ``roles`` are in the room, e.g. bots a user @mentioned there. Idempotent.

        Same rules as ``invite`` (a DIRECT room keeps its one bot); nothing is written when
        every bot is already in the room.
        """
        if not roles:
            return self.get(room_id)
        return self.invite(room_id, *roles)

    def remove(self, room_id: str, *roles: str) -> Room:
        """Take bots out of a room. The Leader stays in every room but a direct one with another bot."""
        if not roles:
            raise UsageError(f"name at least one bot to remove from {room_id!r}")
        unwanted = normalize_roles(roles)

        def change(room: Room) -> tuple[Room, Room]:
            absent = [r for r in unwanted if r not in room.participants]
            if absent:
                raise UsageError(
                    f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not in room "
                    f"{room.id!r} (participants: {', '.join(room.participants)})"
                )
            if room.type is RoomType.DIRECT:
                raise UsageError(
                    f"{room.id!r} is a direct room with {room.participants[0]}; it needs its one bot. "
                    f"Delete it with `nanofolks room delete {room.id}` instead"
                )
            if LEADER in unwanted:
                raise UsageError(
                    f"the leader stays in every room (it answers messages that mention nobody), "
                    f"so it cannot be removed from {room.id!r}"
                )
            bots = tuple(r for r in room.participants if r not in unwanted)
            new = attrs.evolve(room, participants=bots, updated_at=now_utc())
            return new, new

        return self._change(room_id, change)

    def delete(self, room_id: str) -> None:
        """Delete a room and the channel mappings that point to it. ``general`` cannot be deleted."""
        path = self.path_for(room_id)
        if room_id == DEFAULT_ROOM:
            raise UsageError(f"{DEFAULT_ROOM!r} is the default room and cannot be deleted")
        with files.locked(self.root, path.name):
            if files.read_room(path) is None:
                raise UsageError(
                    f"no room named {room_id!r}{self._did_you_mean(room_id)}; see your rooms with `nanofolks room list`"
                )
            os.unlink(path)
            # A crash right here leaves mappings to a missing room; room_for_channel treats
            # those as unmapped, so they are harmless until the next delete cleans them.
            with files.locked(self.root, MAPPINGS_NAME):
                mappings = files.read_mappings(self.root)
                kept = {
                    channel: {chat: rid for chat, rid in chats.items() if rid != room_id}
                    for channel, chats in mappings.items()
                }
                kept = {channel: chats for channel, chats in kept.items() if chats}
                if kept != mappings:
                    files.write_mappings(self.root, kept)

    # ------------------------------------------------------------------ channel mappings

    def map_channel(self, channel: str, chat_id: str | int, room_id: str) -> None:
        """Route messages from ``chat_id`` on ``channel`` (``telegram``, ``cli`` ...) to ``room_id``."""
        channel_name, chat = self._channel_key(channel, chat_id)
        path = self.path_for(room_id)
        with files.locked(self.root, path.name):  # the room cannot be deleted while we map to it
            if room_id != DEFAULT_ROOM and files.read_room(path) is None:
                raise self._no_such_room(room_id)
            with files.locked(self.root, MAPPINGS_NAME):
                mappings = files.read_mappings(self.root)
                if mappings.get(channel_name, {}).get(chat) == room_id:
                    return
                mappings.setdefault(channel_name, {})[chat] = room_id
                files.write_mappings(self.root, mappings)

    def unmap_channel(self, channel: str, chat_id: str | int) -> None:
        """Send ``chat_id`` on ``channel`` back to the default room."""
        channel_name, chat = self._channel_key(channel, chat_id)
        with files.locked(self.root, MAPPINGS_NAME):
            mappings = files.read_mappings(self.root)
            if chat in mappings.get(channel_name, {}):
                del mappings[channel_name][chat]
                if not mappings[channel_name]:
                    del mappings[channel_name]
                files.write_mappings(self.root, mappings)

    def room_for_channel(self, channel: str, chat_id: str | int) -> str:
        """The room id messages from this chat belong to (``general`` unless mapped to a live room)."""
        channel_name, chat = self._channel_key(channel, chat_id)
        room_id = files.read_mappings(self.root).get(channel_name, {}).get(chat)
        if room_id is None or not (self.root / f"{room_id}.json").exists():
            return DEFAULT_ROOM
        return room_id

    def channels_for(self, room_id: str) -> list[tuple[str, str]]:
        """The (channel, chat id) pairs mapped to ``room_id``, sorted."""
        validate_room_id(room_id)
        return sorted(
            (channel, chat)
            for channel, chats in files.read_mappings(self.root).items()
            for chat, rid in chats.items()
            if rid == room_id
        )

    # ------------------------------------------------------------------ tasks

    def add_task(
        self,
        room_id: str,
        title: str,
        owner: str | None = None,
        priority: str | TaskPriority = TaskPriority.MEDIUM,
        due: str | date | None = None,
    ) -> Task:
        """Add a ``todo`` task (id ``t<n>``); an owner who is not in the room yet joins it."""
        return self._change(
            room_id,
            lambda room: task_rules.add_task(room, title, owner=owner, priority=priority, due=due, at=now_utc()),
        )

    def tasks(self, room_id: str, owner: str | None = None, status: str | TaskStatus | None = None) -> list[Task]:
        """The room's tasks in id order, optionally only one owner's and/or one status."""
        return task_rules.filter_tasks(self.get(room_id), owner=owner, status=status)

    def task(self, room_id: str, task_id: str) -> Task:
        """One task; an unknown id is a UsageError that says how to list the ids."""
        return self.get(room_id).task(task_id)

    def set_task_status(self, room_id: str, task_id: str, status: str | TaskStatus, reason: str | None = None) -> Task:
        """Move a task to ``status`` (todo, in_progress, blocked, done, failed); ``reason`` is kept in its history."""
        return self._change(
            room_id, lambda room: task_rules.set_task_status(room, task_id, status, at=now_utc(), reason=reason)
        )

    def assign_task(self, room_id: str, task_id: str, owner: str, reason: str | None = None) -> Task:
        """Give a task to ``owner`` (recorded as "assigned" with the previous owner, if any)."""
        return self._change(
            room_id, lambda room: task_rules.assign_task(room, task_id, owner, reason=reason, at=now_utc())
        )

    def handoff_task(self, room_id: str, task_id: str, to_owner: str, reason: str | None = None) -> Task:
        """Hand an owned task to ``to_owner`` (recorded as "handoff" from -> to)."""
        return self._change(
            room_id, lambda room: task_rules.handoff_task(room, task_id, to_owner, reason=reason, at=now_utc())
        )

    def task_history(self, room_id: str, task_id: str) -> list[TaskEvent]:
        """What happened to a task, oldest first."""
        return list(self.task(room_id, task_id).history)

    # ------------------------------------------------------------------ internals

    def _change(self, room_id: str, change: Callable[[Room], tuple[Room, T]]) -> T:
        """Run ``change`` on the current room under its lock; save the room if it changed."""
        path = self.path_for(room_id)
        if room_id == DEFAULT_ROOM:
            self._ensure_general()
        with files.locked(self.root, path.name):
            room = files.read_room(path)
            if room is None:
                raise self._no_such_room(room_id)
            new_room, result = change(room)
            if new_room != room:
                files.write_room(path, new_room)
        return result

    def _ensure_general(self) -> Room:
        path = self.path_for(DEFAULT_ROOM)
        room = files.read_room(path)
        if room is not None:
            return room
        now = now_utc()
        fresh = Room(
            id=DEFAULT_ROOM,
            type=RoomType.OPEN,
            participants=(LEADER,),
            description="Default room for all conversations",
            created_at=now,
            updated_at=now,
        )
        try:
            with files.locked(self.root, path.name):
                room = files.read_room(path)
                if room is None:
                    files.write_room(path, fresh)
                    room = fresh
        except StorageError:
            return fresh  # a read-only data folder: reading still works; writing says why it cannot
        return room

    @staticmethod
    def _channel_key(channel: str, chat_id: str | int) -> tuple[str, str]:
        if not isinstance(channel, str) or not channel.strip():
            raise UsageError(f"a channel name must be a non-empty string, got {channel!r}")
        if isinstance(chat_id, bool) or not isinstance(chat_id, str | int) or not str(chat_id).strip():
            raise UsageError(f"a chat id must be a non-empty string or an integer, got {chat_id!r}")
        return channel.strip().lower(), str(chat_id).strip()

    @staticmethod
    def _clean_description(description: str) -> str:
        if not isinstance(description, str):
            raise UsageError(f"a room description must be text, got {description!r}")
        text = " ".join(description.split())
        if len(text) > DESCRIPTION_MAX:
            raise UsageError(f"a room description is at most {DESCRIPTION_MAX} characters (got {len(text)})")
        return text

    def _no_such_room(self, room_id: str) -> UsageError:
        return UsageError(
            f"no room named {room_id!r}{self._did_you_mean(room_id)}; create it with `nanofolks room create {room_id}`"
        )

    def _did_you_mean(self, room_id: str) -> str:
        if not self.root.is_dir():
            return ""
        names = [p.stem for p in self.root.glob("*.json") if p.stem not in RESERVED_IDS]
        close = difflib.get_close_matches(room_id, names, n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""
