"""One clear line for a broken environment: a read-only or full disk, missing permissions, a damaged database.

The CLI's top level turns an ``OSError`` or ``sqlite3`` error that escaped a command into a
message naming the file or folder and what to free or fix, instead of a traceback
(``NANOFOLKS_DEBUG=1`` shows the traceback as well).
"""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path
from types import TracebackType

_NEW_HOME = "or set NANOFOLKS_HOME to a folder you can write"


def describe_os_error(exc: OSError, data_root: Path) -> str:
    """What went wrong with which file, and what to do about it."""
    where = str(exc.filename) if exc.filename is not None else None
    place = where or str(data_root)
    code = exc.errno
    if code == errno.EROFS:
        return f"cannot write {place}: the file system is read-only. Make it writable (remount) {_NEW_HOME}"
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied for {place}: give your user read and write access to it "
            f"(e.g. `chmod -R u+rwX {data_root}`) {_NEW_HOME}"
        )
    if code == errno.ENOSPC:
        return f"no space left on the device holding {place}: free some space (`df -h {data_root}`), then try again"
    if code == getattr(errno, "EDQUOT", None):
        return f"disk quota exceeded writing {place}: free some space in your quota, then try again"
    if code in (errno.EMFILE, errno.ENFILE):
        return "too many open files: close some programs (or raise `ulimit -n`), then try again"
    if code == errno.EIO:
        return f"input/output error on {place}: the disk may be failing or was removed; check it, then try again"
    reason = exc.strerror or type(exc).__name__
    return f"{reason}: {place}" if where else f"{reason} ({exc})"


def describe_sqlite_error(exc: sqlite3.Error, data_root: Path) -> str:
    """A message for a database error, naming the database file when it can be found."""
    database = _database_file(exc.__traceback__) or f"a database in {data_root}"
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return f"cannot write {database}: it is read-only. Give your user write access to it and its folder {_NEW_HOME}"
    if "database or disk is full" in text:
        return f"no space left for {database}: free some space (`df -h {data_root}`), then try again"
    if "disk i/o error" in text:
        return (
            f"disk I/O error on {database}: the disk may be full, read-only or failing; "
            f"check it (`df -h {data_root}`), then try again"
        )
    if "unable to open database" in text:
        return f"cannot open {database}: check that its folder exists and you can write it, {_NEW_HOME}"
    if "locked" in text:
        return f"{database} is locked by another nanofolks process; wait for it to finish, then try again"
    if "not a database" in text or "malformed" in text:
        return f"{database} is damaged ({exc}); move it aside to start it afresh, or restore it from a backup"
    return f"database error on {database}: {exc}"


def _database_file(traceback: TracebackType | None) -> str | None:
    """The file of the innermost sqlite connection in the failing call's frames, if any."""
    found = None
    while traceback is not None:
        frame_locals = traceback.tb_frame.f_locals
        candidates = list(frame_locals.values())
        owner = frame_locals.get("self")
        if owner is not None and hasattr(owner, "__dict__"):
            candidates.extend(vars(owner).values())
        for value in candidates:
            if isinstance(value, sqlite3.Connection):
                found = _connection_file(value) or found
        traceback = traceback.tb_next
    return found


def _connection_file(connection: sqlite3.Connection) -> str | None:
    try:
        rows = connection.execute("PRAGMA database_list").fetchall()
    except sqlite3.Error:
        return None
    return next((row[2] for row in rows if row[1] == "main" and row[2]), None)
