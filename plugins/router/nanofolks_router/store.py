"""Persistent routing data in ``<data root>/routing/routing.db`` (SQLite, WAL).

Two tables: ``room_tier`` (each room's sticky tier) and ``llm_call`` (one row per LLM call,
for analytics). SQLite keeps concurrent writers (gateway and CLI, several channels) safe. One connection
per store, opened on first use and guarded by a lock, so the store can be shared across
threads; ``synchronous=NORMAL`` under WAL means a commit does not wait for the disk (a
crash loses at most the last few rows, never corrupts the file).

Routing data is a help, never a requirement. Creating the schema runs under an inter-process
lock (``routing/.lock``), so processes starting together on a fresh data folder do not race.
A damaged database is renamed to ``routing.db.damaged-<UTC time>`` (never deleted) and a new one
started, with a one-line warning; the folder is 0700 and its files 0600.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from nanofolks_core.api import NanofolksError, file_lock, move_aside, private_dir, private_file

log = logging.getLogger("nanofolks.router")
_DAMAGE_WORDS = ("malformed", "not a database", "file is encrypted", "corrupt")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS room_tier (
    room TEXT PRIMARY KEY,
    tier TEXT NOT NULL,
    confidence REAL NOT NULL,
    layer INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_call (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    room TEXT,
    bot TEXT,
    tier TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost REAL
);
"""


@attrs.frozen(kw_only=True)
class RoomTier:
    room: str
    tier: str
    confidence: float
    layer: int
    updated_at: float


@attrs.frozen(kw_only=True)
class CallRow:
    tier: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # as the provider reported it; None: not reported


def is_damage(exc: BaseException) -> bool:
    """True when SQLite says the file is damaged (not merely locked, read-only or on a full disk)."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return "readonly" not in text and "full" not in text
    return any(word in text for word in _DAMAGE_WORDS)


def _companions(db: Path) -> list[Path]:
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


def _make_private(folder: Path) -> None:
    """Folder 0700, files 0600 (also fixes files an older version created 0644)."""
    for item in (folder, *folder.iterdir()):
        with contextlib.suppress(OSError):
            wanted = 0o700 if item.is_dir() else 0o600
            if not item.is_symlink() and item.stat().st_mode & 0o777 != wanted:
                item.chmod(wanted)


def _advice(exc: BaseException, folder: Path) -> str:
    text = str(exc).lower()
    if "full" in text or "no space" in text:
        return f"; free some space on the disk holding {folder}"
    if any(word in text for word in ("readonly", "read-only", "permission", "unable to open")):
        return f"; make {folder} writable for your user (or set NANOFOLKS_HOME to a folder that is)"
    return ""


class RoutingStore:
    def __init__(self, data_root: Path) -> None:
        self.path = Path(data_root) / "routing" / "routing.db"
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        #: Damaged files moved aside by this store, as (original, new name); for ``doctor``.
        self.moved_aside: list[tuple[Path, Path]] = []

    def _folder_lock(self) -> contextlib.AbstractContextManager[None]:
        # Between processes; a folder we cannot write gets no lock (and no writer to race with).
        return file_lock(self.path.parent / ".lock", unlocked_if_unwritable=True)

    def _open(self) -> sqlite3.Connection:
        # Created 0600 before SQLite sees it: its -wal and -shm files copy the database's mode.
        private_file(self.path)
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            # Reads every page, so a truncated or garbled file is found now, not in the middle of a chat.
            conn.execute("SELECT (SELECT count(*) FROM room_tier), (SELECT count(*) FROM llm_call)").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_or_recover(self) -> sqlite3.Connection:
        private_dir(self.path.parent)
        with self._folder_lock():
            try:
                conn = self._open()
            except sqlite3.DatabaseError as exc:
                if not is_damage(exc):
                    raise
                conn = self._replace_damaged(str(exc))
        _make_private(self.path.parent)
        return conn

    def _replace_damaged(self, why: str) -> sqlite3.Connection:
        moved = [(path, move_aside(path)) for path in _companions(self.path) if path.exists()]
        self.moved_aside += moved
        new_name = moved[0][1].name if moved else "(gone)"
        log.warning(
            "routing: %s was damaged (%s); moved it to %s and started a new one (sticky room tiers and "
            "cost analytics start over; routing itself is not affected).",
            self.path,
            why,
            new_name,
        )
        return self._open()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = self._open_or_recover()
                with self._conn:  # one transaction per operation
                    yield self._conn
            except sqlite3.DatabaseError as exc:
                if is_damage(exc) and self._conn is not None:
                    # Damage found mid-run: the next use starts from a fresh file.
                    self._conn.close()
                    self._conn = None
                    with contextlib.suppress(OSError, sqlite3.Error), self._folder_lock():
                        self._replace_damaged(str(exc)).close()
                advice = _advice(exc, self.path.parent)
                raise NanofolksError(f"the routing database {self.path} cannot be used ({exc}){advice}") from exc
            except OSError as exc:
                advice = _advice(exc, self.path.parent)
                raise NanofolksError(f"the routing folder {self.path.parent} cannot be used ({exc}){advice}") from exc

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` finds wrong with the database (empty: it is sound)."""
        with self._connect() as conn:
            rows = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
        return [] if rows == ["ok"] else rows

    def replace_damaged(self, why: str) -> Path | None:
        """Move the database aside and start a new one; returns where the old one went."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            with self._folder_lock():
                self._replace_damaged(why).close()
        return self.moved_aside[-1][1] if self.moved_aside else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- sticky tiers --------------------------------------------------------------------

    def room_tier(self, room: str) -> RoomTier | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT room, tier, confidence, layer, updated_at FROM room_tier WHERE room = ?", (room,)
            ).fetchone()
        if row is None:
            return None
        return RoomTier(room=row[0], tier=row[1], confidence=row[2], layer=row[3], updated_at=row[4])

    def set_room_tier(self, room: str, tier: str, confidence: float, layer: int, now: float | None = None) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO room_tier (room, tier, confidence, layer, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(room) DO UPDATE SET tier = excluded.tier, confidence = excluded.confidence, "
                "layer = excluded.layer, updated_at = excluded.updated_at",
                (room, tier, confidence, layer, time.time() if now is None else now),
            )

    def touch_room(self, room: str, now: float | None = None) -> None:
        with self._connect() as conn:
            conn.execute(
                "UPDATE room_tier SET updated_at = ? WHERE room = ?", (time.time() if now is None else now, room)
            )

    def room_tiers(self) -> list[RoomTier]:
        with self._connect() as conn:
            rows = conn.execute("SELECT room, tier, confidence, layer, updated_at FROM room_tier ORDER BY room")
            return [RoomTier(room=r[0], tier=r[1], confidence=r[2], layer=r[3], updated_at=r[4]) for r in rows]

    def forget_rooms(self, room: str | None = None) -> int:
        """Drop the sticky tier of one room, or of all rooms; returns how many were dropped."""
        with self._connect() as conn:
            if room is None:
                return conn.execute("DELETE FROM room_tier").rowcount
            return conn.execute("DELETE FROM room_tier WHERE room = ?", (room,)).rowcount

    # -- usage ---------------------------------------------------------------------------

    def add_call(
        self,
        *,
        tier: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float | None,
        room: str | None = None,
        bot: str | None = None,
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO llm_call (ts, room, bot, tier, model, prompt_tokens, completion_tokens, cost) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), room, bot, tier, model, prompt_tokens, completion_tokens, cost),
            )

    def calls(self) -> list[CallRow]:
        if not self.path.exists():
            return []  # nothing recorded yet; reading must not create the database
        with self._connect() as conn:
            rows = conn.execute("SELECT tier, model, prompt_tokens, completion_tokens, cost FROM llm_call ORDER BY id")
            return [CallRow(tier=r[0], model=r[1], prompt_tokens=r[2], completion_tokens=r[3], cost=r[4]) for r in rows]
