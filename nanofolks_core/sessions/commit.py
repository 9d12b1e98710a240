"""How concurrent writers append to a room's history without losing or corrupting a message.

Why concurrent writers never lose or corrupt a message (``use_cas=True``):

1. Prepare outside the lock: read ``head.json`` (remembering its exact bytes), build the new
   head, write any new segments (as ``.tmp-`` files, fsynced, then renamed to their ``seg-``
   name, so a ``seg-`` file is always complete) and the new head to a unique temp file.
2. Commit under a short ``flock`` on ``.lock``: re-read ``head.json`` and compare it byte for
   byte with what step 1 read. Every commit carries a fresh random ``commit`` token, so equal
   bytes mean no commit happened in between (no ABA). Also check the new segment files still
   exist. Only then ``os.replace`` the temp head onto ``head.json``.
3. On a mismatch, delete our files, back off (exponential, full jitter), re-read and re-apply
   our messages on top of the new head, dropping ids already present. Retries after the first
   miss (and, for CONTENDED_FOR seconds after any miss, first attempts too) do the whole
   read-build-write while holding the lock, so a slow writer is never starved.

``use_cas=False`` skips the lock and the check (``_append_unsafe``): plain read-modify-write plus
atomic rename, safe only with one writer per room.
"""

from __future__ import annotations

import contextlib
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nanofolks_core import atomic
from nanofolks_core.errors import StorageError

from . import _fs, _repair
from ._fs import Head
from ._repair import REPAIR_HINT
from .errors import SessionConflictError, SessionCorruptError

if TYPE_CHECKING:
    from collections.abc import Callable

HEAD_MAX_MESSAGES = _fs.HEAD_MAX_MESSAGES
HEAD_MAX_BYTES = 256 * 1024
RECENT_IDS = _fs.RECENT_IDS
LOCKED_AFTER = 1
CONTENDED_FOR = 1.0
BACKOFF_BASE = 0.0005
BACKOFF_CAP = 0.05
STALE_AFTER = 3600.0
READ_ATTEMPTS = 50


class CompareAndSetWriter:
    """The write half of ``FileSessionStore``: append by compare-and-set on ``head.json``.

    The store supplies ``max_retries``, ``conflicts``, ``_contended_until``, ``_load_head(path)``
    and ``_sweep(folder, older_than)``.
    """

    max_retries: int
    conflicts: int
    _contended_until: float
    _load_head: Callable[[Path], Head]
    _sweep: Callable[[Path, float], int]

    def _append_cas(self, room: str, path: Path, new: list[dict[str, Any]]) -> int:
        # Optimistic first; under recent contention (this instance lost a race less than
        # CONTENDED_FOR seconds ago) go straight to the locked attempt, which cannot lose.
        contended = time.monotonic() < self._contended_until
        locked_from = 0 if contended else min(LOCKED_AFTER, self.max_retries)
        for attempt in range(self.max_retries + 1):
            head, plan, done = self._attempt(room, path, new, hold_lock=attempt >= locked_from)
            if plan is None:  # every message was already stored
                return head.version
            if done:
                atomic.fsync_dir(path.parent)
                if plan.new_segments:  # a spill: a cheap moment to sweep strays
                    with contextlib.suppress(OSError, SessionCorruptError):  # committed already; optional
                        self._sweep(path.parent, STALE_AFTER)
                return plan.version
            self.conflicts += 1
            self._contended_until = time.monotonic() + CONTENDED_FOR
            time.sleep(random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)))  # noqa: S311
        raise SessionConflictError(
            f"room {room!r}: append lost the compare-and-set race on {path} "
            f"{self.max_retries + 1} times; nothing was written"
        )

    def _attempt(
        self, room: str, path: Path, new: list[dict[str, Any]], *, hold_lock: bool
    ) -> tuple[Head, _fs.Plan | None, bool]:
        """One try: read, build + write files, then compare-and-rename under the lock.
        With ``hold_lock`` the lock is held from the read on, so the compare cannot fail
        (among CAS writers). Our files are deleted again unless the commit happened."""
        plan = None
        done = False
        lock = path.parent / _fs.LOCK_NAME
        try:
            if hold_lock:
                with atomic.file_lock(lock):
                    head = self._load_head(path)
                    plan = self._prepare(room, path, head, new)
                    done = plan is not None and self._commit(path, head.raw, plan)
            else:
                head = self._load_head(path)
                plan = self._prepare(room, path, head, new)
                if plan is not None:
                    with atomic.file_lock(lock):
                        done = self._commit(path, head.raw, plan)
        finally:
            if plan is not None and not done:
                self._discard(plan, path)
        return head, plan, done

    def _current_head_bytes(self, path: Path) -> bytes | None:
        """Re-read of head.json for the compare in ``_commit`` (a seam for tests)."""
        return _fs.read_bytes(path)

    def _commit(self, path: Path, expected: bytes | None, plan: _fs.Plan) -> bool:
        """Caller holds the room lock. Compare, then rename; False if anything moved."""
        if self._current_head_bytes(path) != expected:
            return False
        if not all(seg.exists() for seg in plan.new_segments):
            return False  # swept by cleanup while we were slow; rebuild
        try:
            atomic.replace_with(plan.tmp, path)
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
                atomic.replace_with(plan.tmp, path)
            except FileNotFoundError:
                self._discard(plan, path)
                continue
            atomic.fsync_dir(path.parent)
            return plan.version
        raise SessionConflictError(f"room {room!r}: could not write {path}")

    def _prepare(self, room: str, path: Path, head: Head, new: list[dict[str, Any]]) -> _fs.Plan | None:
        """Write the files for ``head`` + ``new`` (minus known ids); None if nothing is new."""
        if head.blocked:
            raise StorageError(f"{path} is damaged and could not be moved aside ({head.blocked}); {REPAIR_HINT}")
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
        return _fs.write_plan(room, path, frozen, messages, first_index, head.version + 1, list(head.segments), recent)

    def _discard(self, plan: _fs.Plan, path: Path) -> None:
        """Remove the files of a plan that was not committed. Segments are kept if the head
        names them after all (an interrupt landed right after our rename)."""
        atomic.unlink_quietly(plan.tmp)
        if not plan.new_segments:
            return
        head = _repair.committed_head(path)
        if head is None:
            return  # leave them for cleanup rather than guess
        referenced = {s["file"] for s in head.segments}
        for seg in plan.new_segments:
            if seg.name not in referenced:
                atomic.unlink_quietly(seg)
