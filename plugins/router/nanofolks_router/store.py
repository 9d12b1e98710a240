"""Persistent routing data in ``<data root>/routing/routing.db`` (SQLite, WAL).

Two tables: ``room_tier`` (each room's sticky tier) and ``llm_call`` (one row per LLM call,
for analytics). SQLite keeps concurrent writers (gateway and CLI, several channels) safe. One connection
per store, opened on first use and guarded by a lock, so the store can be shared across
threads; ``synchronous=NORMAL`` under WAL means a commit does not wait for the disk (a
crash loses at most the last few rows, never corrupts the file).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from nanofolks_core.api import NanofolksError

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


class RoutingStore:
    def __init__(self, data_root: Path) -> None:
        self.path = Path(data_root) / "routing" / "routing.db"
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                if self._conn is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(_SCHEMA)
                    self._conn = conn
                with self._conn:  # one transaction per operation
                    yield self._conn
            except sqlite3.DatabaseError as exc:
                raise NanofolksError(
                    f"the routing database {self.path} cannot be used ({exc}). "
                    "If it is damaged, move it away; routing starts a new one."
                ) from exc

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
