"""The memory folder on disk: owner-only modes, a lock between processes, damaged files moved aside.

Several ``nanofolks`` processes (chats, the gateway, ``memory`` commands) can start at once on a
fresh data folder. chromadb and SQLite both create their tables on first use and neither is safe
when two processes do it at the same moment (``table collections already exists``), so every
first-use initialisation runs under :func:`interprocess_lock`.

A file that cannot be read as a database is never deleted: :func:`move_aside` renames it to
``<name>.damaged-<time>`` beside the original, and :class:`RepairLog` keeps a line about it for
``nanofolks memory status``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

# errno values that mean "the data folder cannot be written", not "our bug".
_STORAGE_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT, errno.EIO}
_STORAGE_WORDS = (
    "readonly",
    "read-only",
    "disk is full",
    "database or disk is full",
    "no space left",
    "unable to open database",
    "permission denied",
    "disk i/o error",
)
_DAMAGE_WORDS = ("malformed", "not a database", "file is encrypted", "corrupt")


def make_private(path: Path) -> None:
    """Owner-only modes (folders 0700, files 0600) on ``path`` and everything under it.

    Files made by an older version, or by a library with its own umask (chromadb), are fixed
    on every open. A read-only folder is left as it is: that is reported elsewhere.
    """
    items = [path, *path.rglob("*")] if path.is_dir() else [path]
    for item in items:
        with contextlib.suppress(OSError):
            if item.is_symlink():
                continue
            wanted = PRIVATE_DIR if item.is_dir() else PRIVATE_FILE
            if item.stat().st_mode & 0o777 != wanted:
                item.chmod(wanted)


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) as an owner-only folder; fix its mode if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o777 != PRIVATE_DIR:
            path.chmod(PRIVATE_DIR)
    return path


@contextlib.contextmanager
def interprocess_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_file`` (created 0600) while the block runs.

    Blocks until the other holder is done. When the lock file cannot be created (read-only
    folder) the block runs unlocked: no process can write there, so there is nothing to race.
    """
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def move_aside(*paths: Path) -> list[Path]:
    """Rename each existing path to ``<name>.damaged-<YYYYmmdd-HHMMSS>``; returns the new paths.

    Renaming, not deleting: whatever is still readable in a damaged file stays on disk for the
    user (or a recovery tool) to look at.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = []
    for path in paths:
        if not path.exists() and not path.is_symlink():
            continue
        target = path.with_name(f"{path.name}.damaged-{stamp}")
        count = 1
        while target.exists():
            count += 1
            target = path.with_name(f"{path.name}.damaged-{stamp}-{count}")
        path.rename(target)
        moved.append(target)
    return moved


def sqlite_files(db: Path) -> list[Path]:
    """The database file and its WAL and shared-memory companions."""
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def is_damage(exc: BaseException) -> bool:
    """True when ``exc`` says a database file is damaged (not merely locked or unwritable)."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return not any(word in text for word in _STORAGE_WORDS)
    return any(word in text for word in _DAMAGE_WORDS)


def is_storage_fault(exc: BaseException) -> bool:
    """True when ``exc`` says the folder cannot be written (read-only, full, permissions)."""
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        return True
    text = str(exc).lower()
    return any(word in text for word in _STORAGE_WORDS)


def storage_advice(folder: Path, exc: BaseException) -> str:
    """One sentence on how to fix a storage fault in ``folder``."""
    text = str(exc).lower()
    if (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "full" in text or "space" in text:
        return f"the disk holding {folder} is full; free some space there"
    return f"{folder} cannot be written; make it writable for your user (chmod u+rwX) or set NANOFOLKS_HOME elsewhere"


class RepairLog:
    """``repairs.jsonl`` in the memory folder: what was found damaged, where it went, what was done."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add(self, problem: str, moved: list[Path], action: str) -> dict[str, Any]:
        entry = {"ts": time.time(), "problem": problem, "moved": [str(p) for p in moved], "action": action}
        with contextlib.suppress(OSError):  # a log line must never stop the recovery itself
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry) + "\n")
        return entry

    def entries(self, last: int = 5) -> list[dict[str, Any]]:
        """The latest ``last`` entries, oldest first (unreadable lines skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        out = []
        for line in lines[-last:]:
            with contextlib.suppress(ValueError):
                item = json.loads(line)
                if isinstance(item, dict):
                    out.append(item)
        return out
