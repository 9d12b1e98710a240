"""Room files on disk: the JSON format, the per-file locks, and the error for a file that cannot be read.

``RoomStore`` (store.py) holds the rules for changing rooms; this module only reads and writes
their files. Every write is ``atomic_write_text`` (old file or new, never half of one), made while
holding that file's lock from ``locked``; readers need no lock.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nanofolks_core import atomic
from nanofolks_core.errors import NanofolksError

from .models import Room

#: The room file format this nanofolks writes and the newest it reads.
FORMAT = 1
MAPPINGS_NAME = "channel_mappings.json"


class RoomFileError(NanofolksError):
    """A room or mapping file is unreadable, damaged or from a newer nanofolks. ``path`` names it."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"{path}: {problem}. Nothing was changed; run `nanofolks doctor --repair` to move it aside and "
            "rebuild what can be rebuilt (other rooms are not affected)"
        )


@contextlib.contextmanager
def locked(root: Path, file_name: str) -> Iterator[None]:
    """Hold ``file_name``'s lock under ``root/.locks``; an OSError inside (read-only, full disk) is a StorageError.

    A lock file is never deleted: deleting one that others wait on would split the lock.
    """
    with atomic.storage_errors(root):
        lock_dir = atomic.private_dir(root / ".locks")
        with atomic.file_lock(lock_dir / f"{file_name}.lock"):
            yield


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path`` (None if there is no such file), checked for a readable ``format``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise RoomFileError(path, f"is not valid UTF-8 ({exc})") from None
    except OSError as exc:
        raise atomic.storage_error(exc, path) from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RoomFileError(path, f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RoomFileError(path, "does not hold a JSON object")
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RoomFileError(path, 'has no "format" number')
    if version > FORMAT:
        raise RoomFileError(
            path, f"was written by a newer nanofolks (format {version}, this one reads {FORMAT}); upgrade nanofolks"
        )
    return data


def read_room(path: Path) -> Room | None:
    """The room stored in ``path`` (None if there is no such file); its id must match the file name."""
    data = read_json(path)
    if data is None:
        return None
    try:
        room = Room.from_dict(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise RoomFileError(path, f"is not a valid room ({exc})") from None
    if room.id != path.stem:
        raise RoomFileError(path, f"holds room {room.id!r}, but the file name says {path.stem!r}")
    return room


def write_room(path: Path, room: Room) -> None:
    """Replace ``path`` with ``room`` (caller holds the file's lock)."""
    atomic.atomic_write_text(
        path, json.dumps({"format": FORMAT, **room.to_dict()}, indent=2, ensure_ascii=False) + "\n"
    )


def read_mappings(root: Path) -> dict[str, dict[str, str]]:
    """``{channel: {chat id: room id}}`` from ``root/channel_mappings.json`` ({} if there is none)."""
    path = root / MAPPINGS_NAME
    data = read_json(path)
    if data is None:
        return {}
    channels = data.get("channels")
    if not isinstance(channels, dict) or not all(
        isinstance(chats, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in chats.items())
        for chats in channels.values()
    ):
        raise RoomFileError(path, 'needs "channels": {channel: {chat id: room id}}')
    return channels


def write_mappings(root: Path, mappings: dict[str, dict[str, str]]) -> None:
    """Replace the channel mappings file (caller holds its lock)."""
    text = json.dumps({"format": FORMAT, "channels": mappings}, indent=2, sort_keys=True, ensure_ascii=False)
    atomic.atomic_write_text(root / MAPPINGS_NAME, text + "\n")
