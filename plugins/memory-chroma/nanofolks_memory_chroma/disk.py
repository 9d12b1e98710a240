"""The memory folder on disk: owner-only modes, a lock between processes, damaged files moved aside.

Several ``nanofolks`` processes (chats, the gateway, ``memory`` commands) can start at once on a
fresh data folder. chromadb and SQLite both create their tables on first use and neither is safe
when two processes do it at the same moment (``table collections already exists``), so every
first-use initialisation runs under the core's ``file_lock`` on ``<memory>/.lock`` (unlocked only
when the folder cannot be written, so there is no writer to race with).

A file that cannot be read as a database is never deleted: :func:`move_aside` renames it to
``<name>.damaged-<UTC time>`` beside the original, and :class:`RepairLog` keeps a line about it for
``nanofolks memory status``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from nanofolks_core.api import move_aside as core_move_aside

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


def move_aside(*paths: Path) -> list[Path]:
    """Rename each existing path with the core's ``move_aside`` (``<name>.damaged-<UTC time>``,
    never deleted, never overwriting); returns the new paths. Missing paths are skipped, since a
    SQLite database may have no ``-wal``/``-shm`` companions at the moment."""
    return [core_move_aside(path) for path in paths if path.exists() or path.is_symlink()]


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
