"""Per-room session history on disk that several processes and channels can append to at once.

Layout (one folder per room, ``<root>/<room>/``; folders 0700, files 0600)::

    head.json                 the only mutable file; replacing it is the commit point
    seg-<index>-<rand>.json   immutable full segments (<= HEAD_MAX_MESSAGES messages each)
    .lock                     flock target; never deleted
    .tmp-*                    in-flight or stray temp files; ignored by readers
    *.damaged-<time>          damaged files moved aside (never deleted; see "Damage" below)

``head.json`` (UTF-8 JSON, ``"format": 1``) holds ``version`` (grows with every commit, never
reused: ``delete`` writes a tombstone head instead of removing the file), a random ``commit``
token, ``deleted``, the ordered list of segments (file name + message count), the ids of the
last RECENT_IDS messages (for de-duplication) and the newest messages (at most
HEAD_MAX_MESSAGES, about HEAD_MAX_BYTES; the limits are in ``commit.py``). History = segments in
order, then head messages.
When an append would overflow the head, all but the newest message are frozen into new
segment files, so an append rewrites a bounded head no matter how long the history is.

Why concurrent writers never lose or corrupt a message: see ``commit.py`` (``use_cas=True``).

Readers take no lock: ``os.replace`` is atomic, so a reader sees the old head or the new one.
A writer killed with SIGKILL at any point leaves ``head.json`` either old or new (an append
returns only after its rename, so acknowledged messages are always present); its flock is
released by the kernel; its stray files are swept by ``cleanup`` once older than STALE_AFTER.

Damage costs at most the damaged file, and nothing is deleted because of it:

- A damaged segment (or a single bad message) is skipped with a one-line warning naming it;
  the rest of the history stays readable and the room writable. ``repair`` moves it aside.
- A damaged (truncated, emptied, garbled) ``head.json`` is moved aside with a warning and the
  room is rebuilt from its intact segments; a missing ``head.json`` next to segments is rebuilt
  the same way. The next commit stores the rebuilt history (as new segments).
- ``cleanup`` removes only what is provably superseded: ``.tmp-`` files (never committed) and
  unreferenced segments whose every message is in the committed history. It never touches
  segments while ``head.json`` is missing or damaged.

``use_cas=False`` skips the lock and the check: plain read-modify-write plus atomic rename.
It is only safe with one writer per room; concurrent writers lose messages (last rename wins)
but, thanks to unique temp files and atomic renames, never corrupt the files.

POSIX only (``fcntl.flock``); needs a local filesystem where flock and rename are atomic.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nanofolks_core import atomic
from nanofolks_core.errors import StorageError
from nanofolks_core.rooms.models import ROOM_ID_RE, validate_room_id

from . import _fs, _repair
from ._fs import Head
from ._repair import REPAIR_HINT
from .commit import READ_ATTEMPTS, STALE_AFTER, CompareAndSetWriter
from .errors import SessionConflictError, SessionCorruptError, SessionTooNewError
from .message import SessionMessage

HEAD_NAME = "head.json"

log = logging.getLogger("nanofolks.sessions")

#: One rule for room names everywhere (the room store's); raises a ValueError subclass.
validate_room = validate_room_id


class FileSessionStore(CompareAndSetWriter):
    """Session histories under ``root``, one folder per room. See the module docstring."""

    def __init__(self, root: Path, *, use_cas: bool = True, max_retries: int = 50) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.root = Path(root)
        self.use_cas = use_cas
        self.max_retries = max_retries
        self.conflicts = 0  # diagnostic: compare-and-set misses seen by this instance
        self._contended_until = 0.0
        self._warned: set[str] = set()

    # ------------------------------------------------------------------ public API

    def path_for(self, room: str) -> Path:
        """The room's ``head.json`` (its commit point); segments live next to it."""
        return self.root / validate_room(room) / HEAD_NAME

    def version(self, room: str) -> int:
        """The room's version: 0 if it never existed; grows with every commit."""
        path = self.path_for(room)
        with atomic.storage_errors(path):
            return self._load_head(path).version

    def rooms(self) -> list[str]:
        """Names of rooms that exist and are not deleted, sorted."""
        found = []
        for name in self._room_dirs():
            head_path = self.root / name / HEAD_NAME
            try:
                head = self._load_head(head_path)
            except (SessionCorruptError, OSError):
                found.append(name)  # it exists; reading it will report the problem
                continue
            if (head.raw is not None or head.rebuilt) and not head.deleted:
                found.append(name)
        return sorted(found)

    def read(self, room: str, limit: int | None = None) -> list[SessionMessage]:
        """The room's messages, oldest first; ``limit`` keeps only the most recent N.

        Damaged parts are skipped with a warning (see the module docstring), never fatal.
        """
        path = self.path_for(room)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
        with atomic.storage_errors(path.parent):
            for _ in range(READ_ATTEMPTS):
                head = self._load_head(path)
                if head.deleted or (head.raw is None and not head.rebuilt):
                    return []
                dicts = self._collect(path, head, limit)
                if dicts is not None:
                    return [m for m in (self._to_message(d, path) for d in dicts) if m is not None]
        raise SessionCorruptError(f"room {room!r}: {path} kept changing; could not read it")

    def append(self, room: str, *messages: SessionMessage) -> int:
        """Append messages (in order) and return the new version.

        Messages whose id is already among the room's recent ids are dropped, so retrying an
        append is harmless. Returns only after the messages are durably committed. Text is
        stored cleaned (lone surrogates become U+FFFD). A read-only or full data folder raises
        ``StorageError`` and leaves nothing half-written.
        """
        path = self.path_for(room)
        new = self._dedup_dicts(messages)
        if not new:
            return self.version(room)
        _fs.dumps(new)  # fail on non-JSON-able meta before touching any file
        with atomic.storage_errors(path.parent):
            atomic.private_dir(path.parent)
            if not self.use_cas:
                return self._append_unsafe(room, path, new)
            return self._append_cas(room, path, new)

    def replace(self, room: str, messages: Iterable[SessionMessage], *, expected_version: int) -> int:
        """Rewrite the whole history if the version is still ``expected_version``.

        For tools that rewrite a history on purpose: messages left out are gone (the old segments
        are removed). The crew never calls it: compaction appends summaries instead.
        Returns the new version; raises ``SessionConflictError`` (nothing changed) otherwise.
        """
        path = self.path_for(room)
        if not isinstance(expected_version, int) or expected_version < 0:
            raise ValueError(f"expected_version must be an int >= 0, got {expected_version!r}")
        dicts = self._dedup_dicts(tuple(messages))
        with atomic.storage_errors(path.parent):
            atomic.private_dir(path.parent)
            plan = _fs.full_plan(room, path, dicts, expected_version + 1)
            try:
                with atomic.file_lock(path.parent / _fs.LOCK_NAME):
                    current = self._load_head(path)
                    ok = current.version == expected_version and self._commit(path, current.raw, plan)
            except BaseException:
                self._discard(plan, path)
                raise
            if not ok:
                self._discard(plan, path)
                raise SessionConflictError(
                    f"room {room!r}: replace expected version {expected_version} but {path} is at "
                    f"version {current.version}; re-read the room and try again"
                )
            atomic.fsync_dir(path.parent)
            self._drop_segments(path.parent, current.segments)
            with contextlib.suppress(OSError):
                self._sweep(path.parent, STALE_AFTER)
        return plan.version

    def delete(self, room: str) -> None:
        """Delete the room's history. Its version keeps counting (a small tombstone head
        stays), so a stale ``replace`` can never hit a re-created room with the same version."""
        path = self.path_for(room)
        if not path.parent.is_dir():
            return
        with atomic.storage_errors(path.parent), atomic.file_lock(path.parent / _fs.LOCK_NAME):
            head = self._load_head(path)
            if head.deleted or (head.raw is None and not head.rebuilt):
                return
            if head.blocked:
                raise StorageError(f"{path} is damaged and could not be moved aside ({head.blocked}); {REPAIR_HINT}")
            data = _fs.head_bytes(room, head.version + 1, [], [], [], deleted=True)
            tmp = atomic.write_new_file(path.parent, _fs.TMP_PREFIX + "head-", ".json", data)
            atomic.replace_with(tmp, path)
            atomic.fsync_dir(path.parent)
            dropped = [s["file"] for s in head.segments]
            if head.rebuilt:  # its history was every segment on disk
                dropped += [e.name for e in os.scandir(path.parent) if _fs.SEGMENT_RE.fullmatch(e.name)]
            self._drop_segments(path.parent, [{"file": name} for name in dropped])

    def cleanup(self, room: str | None = None, *, older_than: float = STALE_AFTER) -> int:
        """Remove what is provably superseded, older than ``older_than`` seconds: stray temp files
        and unreferenced segments whose messages are all in the history. Returns how many."""
        if room is not None:
            folder = self.path_for(room).parent
            return self._sweep(folder, older_than) if folder.is_dir() else 0
        return sum(self._sweep(self.root / r, older_than) for r in self._room_dirs())

    def repair(self, room: str) -> list[str]:
        """Move damaged files of ``room`` aside and store what could be rebuilt from the intact ones.

        Returns one line per thing done (empty when nothing needed repair). What ``nanofolks doctor
        --repair`` runs for every room.
        """
        return _repair.repair_room(self, room)

    def doctor(self, repair: bool = False) -> list[Any]:
        """Health checks for every room's history (``Check`` records); with ``repair`` fix what can be."""
        return _repair.doctor(self, repair)

    # ------------------------------------------------------------------ internals

    def _warn(self, key: str, text: str) -> None:
        """One warning line per problem per store (the CLI shows it on stderr)."""
        if key not in self._warned:
            self._warned.add(key)
            log.warning("warning: %s", text)

    def _room_dirs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(e.name for e in self.root.iterdir() if ROOM_ID_RE.fullmatch(e.name) and e.is_dir())

    @staticmethod
    def _dedup_dicts(messages: tuple[SessionMessage, ...]) -> list[dict[str, Any]]:
        out, ids = [], set()
        for m in messages:
            if not isinstance(m, SessionMessage):
                raise TypeError(f"expected SessionMessage, got {type(m).__name__}")
            if m.id not in ids:
                ids.add(m.id)
                out.append(m.to_dict())
        return out

    def _load_head(self, path: Path) -> Head:
        """The committed head; a missing or damaged one is rebuilt from the segments on disk
        (a damaged one is moved aside first). Raises only for a head from a newer nanofolks."""
        raw = _fs.read_bytes(path)
        if raw is None:
            return _repair.rebuilt_head(self, path)
        try:
            return _fs.parse_head(raw, path)
        except SessionTooNewError:
            raise
        except SessionCorruptError as exc:
            return _repair.set_head_aside(self, path, raw, exc)

    def _collect(self, path: Path, head: Head, limit: int | None) -> list[dict[str, Any]] | None:
        """Head messages plus as many segments (newest first) as ``limit`` needs; None if a
        segment vanished because a newer commit replaced it (caller re-reads the head).
        Of a damaged or missing segment what is intact is read, with a warning."""
        msgs = head.messages
        if limit is not None and limit <= len(msgs):
            return msgs[len(msgs) - limit :]
        need = None if limit is None else limit - len(msgs)
        parts = [msgs]
        for seg in reversed(head.segments):
            if need is not None and need <= 0:
                break
            seg_path = path.parent / seg["file"]
            try:
                part = _fs.segment_messages(seg_path, expected_count=seg["count"])
            except SessionTooNewError:
                raise
            except SessionCorruptError as exc:
                if self._current_head_bytes(path) != head.raw:
                    return None  # a newer commit replaced it: read again
                part = _fs.salvage_messages(_fs.read_bytes(seg_path))
                lost = max(seg["count"] - len(part), 0)
                self._warn(
                    str(seg_path), f"{exc}; read {len(part)} intact message(s) of it, {lost} lost ({REPAIR_HINT})"
                )
            if need is not None:
                part = part[max(len(part) - need, 0) :]
                need -= len(part)
            parts.append(part)
        return [m for part in reversed(parts) for m in part]

    def _to_message(self, data: dict[str, Any], path: Path) -> SessionMessage | None:
        try:
            return SessionMessage.from_dict(data)
        except ValueError as exc:
            self._warn(f"{path}:{data.get('id') if isinstance(data, dict) else data!r}", f"{path}: skipped {exc}")
            return None

    @staticmethod
    def _drop_segments(folder: Path, segments: list[dict[str, Any]]) -> None:
        for seg in segments:
            atomic.unlink_quietly(folder / seg["file"])

    def _sweep(self, folder: Path, older_than: float) -> int:
        """Under the room lock: delete old ``.tmp-*`` files and provably superseded segments."""
        return _repair.sweep(folder, older_than)
