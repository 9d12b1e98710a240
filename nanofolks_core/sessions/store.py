"""Per-room session history on disk that several processes and channels can append to at once.

Layout (one folder per room, ``<root>/<room>/``)::

    head.json                 the only mutable file; replacing it is the commit point
    seg-<index>-<rand>.json   immutable full segments (<= HEAD_MAX_MESSAGES messages each)
    .lock                     flock target; never deleted
    .tmp-*                    in-flight or stray temp files; ignored by readers

``head.json`` (UTF-8 JSON, ``"format": 1``) holds ``version`` (starts at 1, +1 per commit,
never reused: ``delete`` writes a tombstone head instead of removing the file), a random
``commit`` token, ``deleted``, the ordered list of segments (file name + message count), the
ids of the last RECENT_IDS messages (for de-duplication) and the newest messages (at most
HEAD_MAX_MESSAGES, about HEAD_MAX_BYTES). History = segments in order, then head messages.
When an append would overflow the head, all but the newest message are frozen into new
segment files, so an append rewrites a bounded head no matter how long the history is.

Why concurrent writers never lose or corrupt a message (``use_cas=True``):

1. Prepare outside the lock: read ``head.json`` (remembering its exact bytes), build the new
   head, write any new segments and the new head to files with unique names
   (``mkstemp``), fsync them (and the folder when segments were written).
2. Commit under a short ``flock`` on ``.lock``: re-read ``head.json`` and compare it byte for
   byte with what step 1 read. Every commit carries a fresh random ``commit`` token, so equal
   bytes mean no commit happened in between (no ABA). Also check the new segment files still
   exist. Only then ``os.replace`` the temp head onto ``head.json``. The check and the rename
   happen under the same lock every CAS writer (and ``replace``/``delete``/``cleanup``) takes,
   so no commit can slip between them - unlike a check made before, outside the lock.
3. On a mismatch, delete our temp files, back off (exponential, full jitter), re-read and
   re-apply our messages on top of the new head, dropping ids already present. Retries after
   the first miss (and, for CONTENDED_FOR seconds after any miss, first attempts too) do the
   whole read-build-write while holding the lock. Among CAS writers that attempt cannot lose,
   so a slow writer is never starved and busy rooms do not waste work on doomed attempts;
   the head is bounded, so the lock is still held for about a millisecond. Retries can run
   out (-> SessionConflictError, nothing written) only if something bypasses the lock: a
   ``use_cas=False`` writer, or ``cleanup(older_than=0)`` sweeping an in-flight temp file.

Readers take no lock: ``os.replace`` is atomic, so a reader sees the old head or the new one,
and every segment a head names was fully written and fsynced before that head was committed.
Segments are removed only after a commit stopped naming them (``replace``/``delete``); a
reader that then misses one simply re-reads the head. A writer killed with SIGKILL at any
point leaves ``head.json`` either old or new (an append returns only after its rename, so
acknowledged messages are always present); its flock is released by the kernel; its stray
``.tmp-*`` / unreferenced segment files are ignored and swept by ``cleanup`` once older than
STALE_AFTER seconds (under the lock, so an in-flight commit notices and retries).

``use_cas=False`` skips the lock and the check: plain read-modify-write plus atomic rename.
It is only safe with one writer per room; concurrent writers lose messages (last rename wins)
but, thanks to unique temp files and atomic renames, never corrupt the files.

POSIX only (``fcntl.flock``); needs a local filesystem where flock and rename are atomic.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from . import _fs
from .errors import SessionConflictError, SessionCorruptError
from .message import SessionMessage

HEAD_NAME = "head.json"
HEAD_MAX_MESSAGES = 256
HEAD_MAX_BYTES = 256 * 1024
RECENT_IDS = 512
LOCKED_AFTER = 1
CONTENDED_FOR = 1.0
BACKOFF_BASE = 0.0005
BACKOFF_CAP = 0.05
STALE_AFTER = 3600.0
READ_ATTEMPTS = 50

_ROOM_RE = re.compile(r"[a-z0-9_-]{1,64}")
_SEGMENT_RE = re.compile(r"seg-[0-9]+-[A-Za-z0-9_]+\.json")


def validate_room(room: object) -> str:
    """Return ``room`` if it is a valid room name, else raise ``ValueError``."""
    if isinstance(room, str) and _ROOM_RE.fullmatch(room):
        return room
    shown = repr(room) if len(repr(room)) <= 80 else repr(room)[:77] + "..."
    raise ValueError(
        f"invalid room name {shown}: a room name is 1-64 characters, each a lowercase "
        "letter a-z, a digit 0-9, '-' or '_'"
    )


@attrs.define
class _Head:
    raw: bytes | None  # exact bytes read; None when head.json does not exist
    version: int = 0
    deleted: bool = False
    segments: list[dict[str, Any]] = attrs.Factory(list)
    recent_ids: list[str] = attrs.Factory(list)
    messages: list[dict[str, Any]] = attrs.Factory(list)


@attrs.define
class _Plan:
    tmp: Path
    version: int
    new_segments: list[Path]


class FileSessionStore:
    """Session histories under ``root``, one folder per room. See the module docstring."""

    def __init__(self, root: Path, *, use_cas: bool = True, max_retries: int = 50) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.root = Path(root)
        self.use_cas = use_cas
        self.max_retries = max_retries
        self.conflicts = 0  # diagnostic: compare-and-set misses seen by this instance
        self._contended_until = 0.0

    # ------------------------------------------------------------------ public API

    def path_for(self, room: str) -> Path:
        """The room's ``head.json`` (its commit point); segments live next to it."""
        return self.root / validate_room(room) / HEAD_NAME

    def version(self, room: str) -> int:
        """The room's version: 0 if it never existed; grows by one per commit."""
        return self._load_head(self.path_for(room)).version

    def rooms(self) -> list[str]:
        """Names of rooms that exist and are not deleted, sorted."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            if not _ROOM_RE.fullmatch(entry.name) or not entry.is_dir():
                continue
            try:
                head = self._load_head(entry / HEAD_NAME)
            except SessionCorruptError:
                found.append(entry.name)  # it exists; reading it will report the damage
                continue
            if head.raw is not None and not head.deleted:
                found.append(entry.name)
        return sorted(found)

    def read(self, room: str, limit: int | None = None) -> list[SessionMessage]:
        """The room's messages, oldest first; ``limit`` keeps only the most recent N."""
        path = self.path_for(room)
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be None or an int >= 0, got {limit!r}")
        for _ in range(READ_ATTEMPTS):
            head = self._load_head(path)
            if head.raw is None or head.deleted:
                return []
            dicts = self._collect(path, head, limit)
            if dicts is not None:
                return [self._to_message(d, path) for d in dicts]
        raise SessionCorruptError(f"room {room!r}: {path} kept changing; could not read it")

    def append(self, room: str, *messages: SessionMessage) -> int:
        """Append messages (in order) and return the new version.

        Messages whose id is already among the room's recent ids are dropped, so retrying an
        append is harmless. Returns only after the messages are durably committed.
        """
        path = self.path_for(room)
        new = self._dedup_dicts(messages)
        if not new:
            return self.version(room)
        _fs.dumps(new)  # fail on non-JSON-able meta before touching any file
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.use_cas:
            return self._append_unsafe(room, path, new)
        # Optimistic first; under recent contention (this instance lost a race less than
        # CONTENDED_FOR seconds ago) go straight to the locked attempt, which cannot lose.
        contended = time.monotonic() < self._contended_until
        locked_from = 0 if contended else min(LOCKED_AFTER, self.max_retries)
        for attempt in range(self.max_retries + 1):
            head, plan, done = self._attempt(room, path, new, hold_lock=attempt >= locked_from)
            if plan is None:  # every message was already stored
                return head.version
            if done:
                _fs.fsync_dir(path.parent)
                if plan.new_segments:  # a spill: a cheap moment to sweep strays
                    with contextlib.suppress(OSError):  # committed already; sweeping is optional
                        self._sweep(path.parent, STALE_AFTER)
                return plan.version
            self.conflicts += 1
            self._contended_until = time.monotonic() + CONTENDED_FOR
            jitter = random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # noqa: S311
            time.sleep(jitter)
        raise SessionConflictError(
            f"room {room!r}: append lost the compare-and-set race on {path} "
            f"{self.max_retries + 1} times; nothing was written"
        )

    def replace(self, room: str, messages: Iterable[SessionMessage], *, expected_version: int) -> int:
        """Rewrite the whole history (compaction) if the version is still ``expected_version``.

        Returns the new version; raises ``SessionConflictError`` (nothing changed) otherwise.
        """
        path = self.path_for(room)
        if not isinstance(expected_version, int) or expected_version < 0:
            raise ValueError(f"expected_version must be an int >= 0, got {expected_version!r}")
        dicts = self._dedup_dicts(tuple(messages))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        cut = len(dicts) - (len(dicts) % HEAD_MAX_MESSAGES or HEAD_MAX_MESSAGES)
        cut = max(cut, 0)
        plan = self._write_plan(
            room, path, dicts[:cut], dicts[cut:], 0, expected_version + 1, [], [d["id"] for d in dicts[-RECENT_IDS:]]
        )
        try:
            with _fs.locked(path.parent):
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
        _fs.fsync_dir(path.parent)
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
        with _fs.locked(path.parent):
            head = self._load_head(path)
            if head.raw is None or head.deleted:
                return
            data = self._head_bytes(room, head.version + 1, [], [], [], deleted=True)
            tmp = _fs.write_new_file(path.parent, _fs.TMP_PREFIX + "head-", ".json", data)
            try:
                os.replace(tmp, path)
            except BaseException:
                _fs.unlink_quietly(tmp)
                raise
        _fs.fsync_dir(path.parent)
        self._drop_segments(path.parent, head.segments)

    def cleanup(self, room: str | None = None, *, older_than: float = STALE_AFTER) -> int:
        """Remove stray temp files and unreferenced segments (left by killed writers) older
        than ``older_than`` seconds, in one room or all. Returns how many files were removed."""
        if room is not None:
            folder = self.path_for(room).parent
            return self._sweep(folder, older_than) if folder.is_dir() else 0
        return sum(self._sweep(self.root / r, older_than) for r in self._room_dirs())

    # ------------------------------------------------------------------ internals

    def _room_dirs(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return [e.name for e in self.root.iterdir() if _ROOM_RE.fullmatch(e.name) and e.is_dir()]

    def _attempt(
        self, room: str, path: Path, new: list[dict[str, Any]], *, hold_lock: bool
    ) -> tuple[_Head, _Plan | None, bool]:
        """One try: read, build + write files, then compare-and-rename under the lock.
        With ``hold_lock`` the lock is held from the read on, so the compare cannot fail
        (among CAS writers). Our files are deleted again unless the commit happened."""
        plan = None
        done = False
        try:
            if hold_lock:
                with _fs.locked(path.parent):
                    head = self._load_head(path)
                    plan = self._prepare(room, path, head, new)
                    done = plan is not None and self._commit(path, head.raw, plan)
            else:
                head = self._load_head(path)
                plan = self._prepare(room, path, head, new)
                if plan is not None:
                    with _fs.locked(path.parent):
                        done = self._commit(path, head.raw, plan)
        finally:
            if plan is not None and not done:
                self._discard(plan, path)
        return head, plan, done

    def _current_head_bytes(self, path: Path) -> bytes | None:
        """Re-read of head.json for the compare in ``_commit`` (a seam for tests)."""
        return _fs.read_bytes(path)

    def _commit(self, path: Path, expected: bytes | None, plan: _Plan) -> bool:
        """Caller holds the room lock. Compare, then rename; False if anything moved."""
        if self._current_head_bytes(path) != expected:
            return False
        if not all(seg.exists() for seg in plan.new_segments):
            return False  # swept by cleanup while we were slow; rebuild
        try:
            os.replace(plan.tmp, path)
        except FileNotFoundError:
            return False  # our temp head was swept by cleanup
        return True

    def _append_unsafe(self, room: str, path: Path, new: list[dict[str, Any]]) -> int:
        for _ in range(READ_ATTEMPTS):
            head = self._load_head(path)
            plan = self._prepare(room, path, head, new)
            if plan is None:
                return head.version
            try:
                os.replace(plan.tmp, path)
            except FileNotFoundError:
                self._discard(plan, path)
                continue
            _fs.fsync_dir(path.parent)
            return plan.version
        raise SessionConflictError(f"room {room!r}: could not write {path}")

    def _prepare(self, room: str, path: Path, head: _Head, new: list[dict[str, Any]]) -> _Plan | None:
        """Write the files for ``head`` + ``new`` (minus known ids); None if nothing is new."""
        seen = set(head.recent_ids)
        seen.update(m.get("id") for m in head.messages)
        fresh = [d for d in new if d["id"] not in seen]
        if not fresh:
            return None
        messages = head.messages + fresh
        recent = (head.recent_ids + [d["id"] for d in fresh])[-RECENT_IDS:]
        frozen: list[dict[str, Any]] = []
        if len(messages) > HEAD_MAX_MESSAGES or len(_fs.dumps(messages)) > HEAD_MAX_BYTES:
            frozen, messages = messages[:-1], messages[-1:]
        first_index = sum(int(s["count"]) for s in head.segments)
        return self._write_plan(
            room, path, frozen, messages, first_index, head.version + 1, list(head.segments), recent
        )

    def _write_plan(
        self,
        room: str,
        path: Path,
        frozen: list[dict[str, Any]],
        head_msgs: list[dict[str, Any]],
        first_index: int,
        version: int,
        segments: list[dict[str, Any]],
        recent: list[str],
    ) -> _Plan:
        folder = path.parent
        written: list[Path] = []
        try:
            for start in range(0, len(frozen), HEAD_MAX_MESSAGES):
                chunk = frozen[start : start + HEAD_MAX_MESSAGES]
                index = first_index + start
                data = _fs.dumps(
                    {
                        "format": _fs.FORMAT_VERSION,
                        "kind": _fs.SEGMENT_KIND,
                        "room": room,
                        "first_index": index,
                        "messages": chunk,
                    }
                )
                seg = _fs.write_new_file(folder, f"seg-{index:010d}-", ".json", data)
                written.append(seg)
                segments.append({"file": seg.name, "count": len(chunk)})
            if written:
                _fs.fsync_dir(folder)  # segment names durable before any head names them
            data = self._head_bytes(room, version, segments, recent, head_msgs)
            tmp = _fs.write_new_file(folder, _fs.TMP_PREFIX + "head-", ".json", data)
        except BaseException:
            for seg in written:
                _fs.unlink_quietly(seg)
            raise
        return _Plan(tmp=tmp, version=version, new_segments=written)

    @staticmethod
    def _head_bytes(
        room: str,
        version: int,
        segments: list[dict[str, Any]],
        recent: list[str],
        messages: list[dict[str, Any]],
        *,
        deleted: bool = False,
    ) -> bytes:
        return _fs.dumps(
            {
                "format": _fs.FORMAT_VERSION,
                "kind": _fs.HEAD_KIND,
                "room": room,
                "version": version,
                "commit": uuid.uuid4().hex,
                "deleted": deleted,
                "segments": segments,
                "recent_ids": recent,
                "messages": messages,
            }
        )

    def _discard(self, plan: _Plan, path: Path) -> None:
        """Remove the files of a plan that was not committed. Segments are kept if the head
        names them after all (an interrupt landed right after our rename)."""
        _fs.unlink_quietly(plan.tmp)
        if not plan.new_segments:
            return
        try:
            referenced = {s["file"] for s in self._load_head(path).segments}
        except SessionCorruptError:
            return  # leave them for cleanup rather than guess
        for seg in plan.new_segments:
            if seg.name not in referenced:
                _fs.unlink_quietly(seg)

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

    @staticmethod
    def _load_head(path: Path) -> _Head:
        raw = _fs.read_bytes(path)
        if raw is None:
            return _Head(raw=None)
        doc = _fs.load_doc(raw, _fs.HEAD_KIND, path)
        version, segments = doc.get("version"), doc.get("segments")
        messages, recent = doc.get("messages"), doc.get("recent_ids", [])
        if (
            not isinstance(version, int)
            or version < 0
            or not isinstance(segments, list)
            or not isinstance(messages, list)
            or not isinstance(recent, list)
            or not all(isinstance(m, dict) for m in messages)
            or not all(
                isinstance(s, dict)
                and isinstance(s.get("file"), str)
                and _SEGMENT_RE.fullmatch(s["file"])
                and isinstance(s.get("count"), int)
                for s in segments
            )
        ):
            raise SessionCorruptError(f"{path}: malformed session head")
        return _Head(
            raw=raw,
            version=version,
            deleted=bool(doc.get("deleted")),
            segments=segments,
            recent_ids=recent,
            messages=messages,
        )

    def _collect(self, path: Path, head: _Head, limit: int | None) -> list[dict[str, Any]] | None:
        """Head messages plus as many segments (newest first) as ``limit`` needs; None if a
        segment vanished because a newer commit replaced it (caller re-reads the head)."""
        msgs = head.messages
        if limit is not None and limit <= len(msgs):
            return msgs[len(msgs) - limit :]
        need = None if limit is None else limit - len(msgs)
        parts = [msgs]
        for seg in reversed(head.segments):
            if need is not None and need <= 0:
                break
            seg_path = path.parent / seg["file"]
            raw = _fs.read_bytes(seg_path)
            if raw is None:
                if self._current_head_bytes(path) == head.raw:
                    raise SessionCorruptError(f"{path} names {seg_path}, which is missing")
                return None
            doc = _fs.load_doc(raw, _fs.SEGMENT_KIND, seg_path)
            part = doc.get("messages")
            if not isinstance(part, list) or len(part) != seg["count"]:
                raise SessionCorruptError(f"{seg_path}: message count does not match {path}")
            if need is not None:
                part = part[max(len(part) - need, 0) :]
                need -= len(part)
            parts.append(part)
        return [m for part in reversed(parts) for m in part]

    @staticmethod
    def _to_message(data: dict[str, Any], path: Path) -> SessionMessage:
        try:
            return SessionMessage.from_dict(data)
        except ValueError as exc:
            raise SessionCorruptError(f"{path}: bad message: {exc}") from exc

    @staticmethod
    def _drop_segments(folder: Path, segments: list[dict[str, Any]]) -> None:
        for seg in segments:
            _fs.unlink_quietly(folder / seg["file"])

    def _sweep(self, folder: Path, older_than: float) -> int:
        """Under the room lock: delete old ``.tmp-*`` files and unreferenced segments."""
        removed = 0
        now = time.time()
        with _fs.locked(folder):
            head = self._load_head(folder / HEAD_NAME)
            referenced = {s["file"] for s in head.segments}
            for entry in os.scandir(folder):
                stray = entry.name.startswith(_fs.TMP_PREFIX) or (
                    _SEGMENT_RE.fullmatch(entry.name) and entry.name not in referenced
                )
                if not stray:
                    continue
                try:
                    if now - entry.stat().st_mtime >= older_than:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:
                    pass
        return removed
