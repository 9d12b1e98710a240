"""The work log on disk: ``<data root>/plugins/worklog/worklog.db`` (SQLite, WAL).

One table, ``entry``: one row per thing the crew did. ``kind`` is ``turn`` (a message answered),
``tool`` (a tool call), ``delegation`` (the Leader's ``delegate``), ``task`` (a room task
created, done, failed or handed over), ``artifact`` (a file a tool wrote) or ``llm`` (one model
call: tokens, cost). Several processes (the gateway, CLI chats) write at once: WAL lets readers
and one writer work together, and ``busy_timeout`` makes a writer wait its turn instead of
failing. The folder is 0700 and the files 0600; texts are stored as the crew stored them, with
credentials as ``{{name}}`` references.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from nanofolks_core.api import StorageError, move_aside, private_dir

log = logging.getLogger("nanofolks.worklog")

KINDS = ("turn", "tool", "delegation", "task", "artifact", "llm")
#: Columns of ``entry`` besides ``id``, in order.
COLUMNS = (
    "ts",
    "kind",
    "room",
    "bot",
    "channel",
    "routine",
    "name",
    "outcome",
    "summary",
    "detail",
    "seconds",
    "model",
    "provider",
    "tier",
    "prompt_tokens",
    "completion_tokens",
    "cost",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    room TEXT,
    bot TEXT,
    channel TEXT,
    routine TEXT,
    name TEXT,
    outcome TEXT,
    summary TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    seconds REAL,
    model TEXT,
    provider TEXT,
    tier TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost REAL
);
CREATE INDEX IF NOT EXISTS entry_ts ON entry (ts);
CREATE INDEX IF NOT EXISTS entry_kind_ts ON entry (kind, ts);
"""

_DAMAGE_WORDS = ("malformed", "not a database", "file is encrypted", "corrupt")
#: Milliseconds a writer waits for another process's write to finish.
BUSY_MS = 10_000


def database_path(data_root: Path) -> Path:
    """Where the work log of a data folder lives."""
    return Path(data_root) / "plugins" / "worklog" / "worklog.db"


class WorkLog:
    """The work log of one data folder. Thread-safe; one connection, opened on first use."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    # -- connection ----------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        try:
            db = self._open()
        except sqlite3.DatabaseError as exc:
            if not any(word in str(exc) for word in _DAMAGE_WORDS):
                raise self._unusable(exc) from None
            db = self._replace_damaged(str(exc))
        db.row_factory = sqlite3.Row
        self._db = db
        return db

    def _open(self) -> sqlite3.Connection:
        db = None
        try:
            private_dir(self.path.parent)
            fresh = not self.path.exists()
            db = sqlite3.connect(self.path, timeout=BUSY_MS / 1000, check_same_thread=False, isolation_level=None)
            if fresh:
                self.path.chmod(0o600)
            db.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            return db
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            if isinstance(exc, sqlite3.DatabaseError) and any(word in str(exc) for word in _DAMAGE_WORDS):
                raise
            raise self._unusable(exc) from None

    def _replace_damaged(self, why: str) -> sqlite3.Connection:
        """A damaged log is renamed ``worklog.db.damaged-<UTC time>`` (kept, never deleted) and a new one started."""
        moved = None
        for path in (
            self.path,
            self.path.with_name(self.path.name + "-wal"),
            self.path.with_name(self.path.name + "-shm"),
        ):
            try:
                target = move_aside(path)
            except FileNotFoundError:
                continue  # another process moved it first, or SQLite never made it
            moved = moved or target
        log.warning(
            "work log: %s was damaged (%s); moved it to %s and started a new one",
            self.path, why, moved.name if moved else "(already moved)",
        )  # fmt: skip
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from None

    def _unusable(self, exc: BaseException) -> StorageError:
        return StorageError(
            f"the work log {self.path} cannot be opened: {exc}; check that the folder is writable and the disk not full"
        )

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- writing ---------------------------------------------------------------------------

    def add(self, kind: str, **fields: Any) -> int:
        """Append one entry; ``detail`` (a dict) is stored as JSON. Returns the new id."""
        if kind not in KINDS:
            raise ValueError(f"unknown work-log kind {kind!r}")
        values = {"ts": time.time(), "detail": {}, "summary": "", **fields, "kind": kind}
        values["detail"] = json.dumps(values["detail"], ensure_ascii=False, default=str)
        unknown = set(values) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown work-log fields {sorted(unknown)}")
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._lock:
            db = self._connect()
            try:
                # Column names come from COLUMNS; values go in as parameters.
                sql = f"INSERT INTO entry ({names}) VALUES ({marks})"  # noqa: S608  # nosec B608
                return db.execute(sql, tuple(values.values())).lastrowid
            except sqlite3.Error as exc:
                raise StorageError(f"the work log {self.path} cannot be written: {exc}") from None

    def prune(self, before: float) -> int:
        """Delete entries older than ``before`` (a timestamp); returns how many."""
        with self._lock:
            db = self._connect()
            count = db.execute("DELETE FROM entry WHERE ts < ?", (before,)).rowcount
        return count

    # -- reading ---------------------------------------------------------------------------

    def query(
        self,
        *,
        since: float | None = None,
        room: str | None = None,
        bot: str | None = None,
        kinds: tuple[str, ...] | None = None,
        words: tuple[str, ...] = (),
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[dict[str, Any]]:
        """Entries matching every filter; ``words`` must each appear (any case) in the summary or detail."""
        where, params = ["1=1"], []
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        if room:
            where.append("room = ?")
            params.append(room)
        if bot:
            # A turn lists every bot that answered: "leader,researcher".
            where.append("(bot = ? OR ',' || bot || ',' LIKE ?)")
            params += [bot, f"%,{bot},%"]
        if kinds:
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params += list(kinds)
        for word in words:
            where.append("(summary LIKE ? ESCAPE '\\' OR detail LIKE ? ESCAPE '\\')")
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [pattern, pattern]
        order = "DESC" if newest_first else "ASC"
        # Built from fixed parts; values go in as parameters.
        sql = f"SELECT * FROM entry WHERE {' AND '.join(where)} ORDER BY ts {order}, id {order}"  # noqa: S608  # nosec B608
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_as_dict(row) for row in self._read(sql, params)]

    def get(self, entry_id: int) -> dict[str, Any] | None:
        rows = self._read("SELECT * FROM entry WHERE id = ?", [entry_id])
        return _as_dict(rows[0]) if rows else None

    def rows(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Raw rows of a read-only query (metrics)."""
        return self._read(sql, list(params))

    def _read(self, sql: str, params: list[Any]) -> list[sqlite3.Row]:
        if self._db is None and not self.path.exists():
            return []  # nothing logged yet: no need to create the database to say so
        with self._lock:
            db = self._connect()
            try:
                return db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"the work log {self.path} cannot be read: {exc}") from None


def _as_dict(row: sqlite3.Row) -> dict[str, Any]:
    entry = dict(row)
    try:
        entry["detail"] = json.loads(entry.get("detail") or "{}")
    except ValueError:
        entry["detail"] = {"unreadable": entry.get("detail")}
    return entry


_OPEN: dict[Path, WorkLog] = {}
_OPEN_LOCK = threading.Lock()


def worklog_for(data_root: Path) -> WorkLog:
    """The process's one :class:`WorkLog` for ``data_root`` (hooks, CLI and tool share it)."""
    path = database_path(data_root).resolve() if Path(data_root).exists() else database_path(data_root)
    with _OPEN_LOCK:
        if path not in _OPEN:
            _OPEN[path] = WorkLog(path)
        return _OPEN[path]


__all__ = ["COLUMNS", "KINDS", "WorkLog", "database_path", "worklog_for"]
