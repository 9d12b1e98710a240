"""The SQLite side of memory: the event log, the knowledge graph and learned preferences.

One file, ``<data root>/memory/memory.db``, in WAL mode so readers (the chat, ``memory
search``) never wait for the background writer. Everything derived from a message
(mentions, relations, preferences) points at it with ``ON DELETE CASCADE``, so forgetting a
message or a room also forgets what was learned from it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nanofolks_core.api import MemoryEvent
from nanofolks_memory_chroma.extract import Extraction
from nanofolks_memory_chroma.lexical import create_index

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    room TEXT NOT NULL,
    role TEXT NOT NULL,
    bot TEXT,
    channel TEXT,
    ts REAL NOT NULL,
    text TEXT NOT NULL,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_room_seq ON messages (room, seq);
CREATE INDEX IF NOT EXISTS messages_unindexed ON messages (indexed) WHERE indexed = 0;
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    first_ts REAL NOT NULL,
    last_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS mentions (
    entity_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    message_seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    PRIMARY KEY (entity_id, message_seq)
);
CREATE INDEX IF NOT EXISTS mentions_message ON mentions (message_seq);
CREATE TABLE IF NOT EXISTS relations (
    id INTEGER PRIMARY KEY,
    subject_id INTEGER REFERENCES entities (id) ON DELETE CASCADE,  -- NULL: the user
    predicate TEXT NOT NULL,
    object_id INTEGER NOT NULL REFERENCES entities (id) ON DELETE CASCADE,
    message_seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS relations_by_subject ON relations (subject_id, id);
CREATE INDEX IF NOT EXISTS relations_by_object ON relations (object_id, id);
CREATE INDEX IF NOT EXISTS relations_message ON relations (message_seq);
CREATE TABLE IF NOT EXISTS preferences (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    statement TEXT NOT NULL,
    message_seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS preferences_key ON preferences (key, ts);
CREATE INDEX IF NOT EXISTS preferences_message ON preferences (message_seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

ENTITY_PREFIX, PREFERENCE_PREFIX, FACT_PREFIX = "entity:", "pref:", "fact:"
_RELATIONS_AS_SUBJECT = (
    "SELECT id, subject_id, predicate, object_id, ts FROM relations WHERE subject_id = ? ORDER BY id DESC LIMIT ?"
)
_RELATIONS_AS_OBJECT = (
    "SELECT id, subject_id, predicate, object_id, ts FROM relations WHERE object_id = ? ORDER BY id DESC LIMIT ?"
)


class MemoryStore:
    """Thread-safe access to memory.db (one connection, one lock; WAL keeps other processes' reads cheap)."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the database; raises ``sqlite3.DatabaseError`` if the file is not a usable one.

        Creating the schema is not safe when two processes do it at once: the caller holds the
        memory folder's inter-process lock around this.
        """
        self.path = path
        self._lock = threading.RLock()
        # Created owner-only before SQLite sees it: SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            with self._lock:
                self._db.executescript(SCHEMA)
                #: False when this SQLite has no FTS5: keyword search is then off, dense search still works.
                self.keyword_index = create_index(self._db)
            # Reads every page of the log table, so a truncated or garbled file is found now
            # (and moved aside by the caller) rather than in the middle of a chat.
            self._db.execute("SELECT count(*), max(length(text)) FROM messages").fetchone()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rollback(self) -> None:
        # SQLite may already have rolled back itself (a full disk at COMMIT): ROLLBACK would then fail
        # and hide the real error.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` finds wrong (empty: the file is sound)."""
        rows = [row[0] for row in self._rows("PRAGMA integrity_check(20)")]
        return [] if rows == ["ok"] else rows

    def restore_messages(self, rows: list[dict[str, Any]]) -> list[tuple[int, MemoryEvent]]:
        """Put messages recovered from the search index back into the log, already indexed."""
        events = [
            MemoryEvent(
                id=row["id"],
                room=row["room"],
                role=row["role"],
                text=row["text"],
                bot=row.get("bot"),
                channel=row.get("channel"),
                ts=row["ts"],
            )
            for row in rows
        ]
        added = self.add_messages(events)
        self.mark_indexed([seq for seq, _ in added])
        return added

    def mark_unindexed(self, ids: list[str] | None = None) -> int:
        """Make messages (all of them, or those ``ids``) wait for embedding again; returns how many."""
        with self._lock:
            if ids is None:
                return self._db.execute("UPDATE messages SET indexed = 0 WHERE indexed = 1").rowcount
            return self._db.execute(
                "UPDATE messages SET indexed = 0 WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
            ).rowcount

    def searchable(self) -> list[str]:
        """Ids of indexed messages with text (those that should have a vector)."""
        return [row[0] for row in self._rows("SELECT id FROM messages WHERE indexed = 1 AND trim(text) != ''")]

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query (for the retrieval modules of this package)."""
        return self._rows(sql, params)

    def get_meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- writing ---------------------------------------------------------------------------

    def add_messages(self, events: list[MemoryEvent]) -> list[tuple[int, MemoryEvent]]:
        """Append events to the log; returns ``(seq, event)`` for the new ones (known ids are skipped)."""
        added = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    cursor = self._db.execute(
                        "INSERT OR IGNORE INTO messages (id, room, role, bot, channel, ts, text) "
                        "VALUES (?,?,?,?,?,?,?)",
                        # The bot column is who spoke: a crew member, or the person who wrote (when known).
                        (event.id, event.room, event.role, event.bot or getattr(event, "sender", None),
                         event.channel, event.ts, event.text),  # fmt: skip
                    )
                    if cursor.rowcount:
                        added.append((cursor.lastrowid, event))
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return added

    def add_extractions(self, items: list[tuple[int, float, Extraction]]) -> None:
        """Store what was learned from each message ``(seq, ts, extraction)``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for seq, ts, found in items:
                    self._add_extraction(seq, ts, found)
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def _entity_id(self, name: str, kind: str, ts: float) -> int:
        key = name.lower()
        self._db.execute(
            "INSERT INTO entities (key, name, kind, first_ts, last_ts) VALUES (?,?,?,?,?) "
            "ON CONFLICT (key) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts)",
            (key, name, kind, ts, ts),
        )
        return self._db.execute("SELECT id FROM entities WHERE key = ?", (key,)).fetchone()[0]

    def _add_extraction(self, seq: int, ts: float, found: Extraction) -> None:
        ids = {}
        for entity in found.entities:
            ids[entity.name.lower()] = entity_id = self._entity_id(entity.name, entity.kind, ts)
            self._db.execute("INSERT OR IGNORE INTO mentions (entity_id, message_seq) VALUES (?, ?)", (entity_id, seq))
        for relation in found.relations:
            obj = ids.get(relation.object.lower())
            subject = ids.get(relation.subject.lower()) if relation.subject else None
            if obj is None or (relation.subject and subject is None):
                continue
            self._db.execute(
                "INSERT INTO relations (subject_id, predicate, object_id, message_seq, ts) VALUES (?,?,?,?,?)",
                (subject, relation.predicate, obj, seq, ts),
            )
        for preference in found.preferences:
            self._db.execute(
                "INSERT INTO preferences (key, value, statement, message_seq, ts) VALUES (?,?,?,?,?)",
                (preference.key, preference.value, preference.statement, seq, ts),
            )

    def mark_indexed(self, seqs: list[int]) -> None:
        with self._lock:
            self._db.executemany("UPDATE messages SET indexed = 1 WHERE seq = ?", [(seq,) for seq in seqs])

    # -- reading ---------------------------------------------------------------------------

    def unindexed(self, limit: int = 256) -> list[sqlite3.Row]:
        """Messages in the log that are not searchable yet (embedding failed or the process stopped)."""
        return self._rows("SELECT * FROM messages WHERE indexed = 0 ORDER BY seq LIMIT ?", (limit,))

    def recent_ids(self, room: str, count: int) -> set[str]:
        """Ids of the last ``count`` messages of ``room`` (those are in the prompt as history already)."""
        if count <= 0:
            return set()
        rows = self._rows("SELECT id FROM messages WHERE room = ? ORDER BY seq DESC LIMIT ?", (room, count))
        return {row["id"] for row in rows}

    def message(self, entry_id: str) -> sqlite3.Row | None:
        rows = self._rows("SELECT * FROM messages WHERE id = ?", (entry_id,))
        return rows[0] if rows else None

    def room_message_count(self, room: str) -> int:
        return self._rows("SELECT count(*) FROM messages WHERE room = ?", (room,))[0][0]

    def preferences(self, with_counts: bool = False) -> list[dict[str, Any]]:
        """The current value of each preference (the latest recorded wins), newest first.

        ``with_counts`` adds ``times``: how often that value was expressed (for ``memory status``).
        """
        rows = [
            dict(row)
            for row in self._rows(
                "SELECT p.id, p.key, p.value, p.statement, p.ts FROM "
                "(SELECT max(id) AS id FROM preferences GROUP BY key) latest JOIN preferences p ON p.id = latest.id "
                "ORDER BY p.id DESC"
            )
        ]
        if with_counts:
            for row in rows:
                row["times"] = self._rows(
                    "SELECT count(*) FROM preferences WHERE key = ? AND value = ?", (row["key"], row["value"])
                )[0][0]
        return rows

    def entities_for(self, message_ids: list[str], names_in: str, limit: int) -> list[sqlite3.Row]:
        """Entities mentioned in the given messages or named in ``names_in``, most recently seen first."""
        words = sorted({word.strip(".,!?;:'\"()").lower() for word in names_in.split()} - {""})
        # Candidates come from indexes only (mentions of a few messages, exact names), so the
        # cost does not grow with how often an entity was ever mentioned. Lists travel as JSON
        # parameters: the SQL text is constant.
        return self._rows(
            "SELECT e.id, e.name, e.kind FROM entities e WHERE e.id IN "
            "(SELECT entity_id FROM mentions JOIN messages ON seq = message_seq "
            " WHERE id IN (SELECT value FROM json_each(?))) "
            "OR e.key IN (SELECT value FROM json_each(?)) "
            "OR (instr(e.key, ' ') > 0 AND instr(?, e.key) > 0) "  # multi-word names ("new york")
            "ORDER BY e.last_ts DESC LIMIT ?",
            (json.dumps(message_ids), json.dumps(words), names_in.lower(), limit),
        )

    def relations_of(self, entity_ids: list[int], per_entity: int = 50, limit: int = 20) -> list[dict[str, Any]]:
        """Distinct relations touching the entities, stated most often first; ``subject`` None is the user.

        Only each entity's latest ``per_entity`` relation rows are read (an index range per entity).
        """
        rows: dict[int, sqlite3.Row] = {}
        for entity_id in entity_ids:
            for query in (_RELATIONS_AS_SUBJECT, _RELATIONS_AS_OBJECT):
                for row in self._rows(query, (entity_id, per_entity)):
                    rows[row["id"]] = row
        return self._aggregate(rows.values(), limit)

    def _aggregate(self, rows: Iterable[sqlite3.Row], limit: int) -> list[dict[str, Any]]:
        grouped: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            key = (row["subject_id"], row["predicate"], row["object_id"])
            item = grouped.setdefault(key, {"times": 0, "ts": 0.0, "id": 0})
            item["times"] += 1
            item["ts"] = max(item["ts"], row["ts"])
            item["id"] = max(item["id"], row["id"])  # the latest statement stands for the fact (fact:<id>)
        ids = sorted({entity for key in grouped for entity in (key[0], key[2]) if entity is not None})
        names = {
            row["id"]: row["name"]
            for row in self._rows(
                "SELECT id, name FROM entities WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(ids),)
            )
        }
        result = [
            {
                "subject": names.get(subject) if subject is not None else None,
                "predicate": predicate,
                "object": names.get(obj),
                **item,
            }
            for (subject, predicate, obj), item in grouped.items()
            if obj in names and (subject is None or subject in names)
        ]
        result.sort(key=lambda rel: (rel["predicate"] == "mentioned with", -rel["times"], -rel["ts"]))
        return result[:limit]

    def user_facts(self, limit: int = 10, scan: int = 300) -> list[dict[str, Any]]:
        """Relations about the user ("has a sister Anna", "lives in Lisbon") from the latest ``scan`` statements."""
        rows = self._rows(
            "SELECT id, subject_id, predicate, object_id, ts FROM relations WHERE subject_id IS NULL "
            "ORDER BY id DESC LIMIT ?",
            (scan,),
        )
        facts = self._aggregate(rows, limit * 3)
        facts.sort(key=lambda rel: -rel["ts"])
        return facts[:limit]

    def entity_list(self, limit: int = 20) -> list[sqlite3.Row]:
        return self._rows(
            "SELECT e.id, e.name, e.kind, count(m.message_seq) AS mentions FROM entities e "
            "LEFT JOIN mentions m ON m.entity_id = e.id GROUP BY e.id ORDER BY mentions DESC, e.last_ts DESC LIMIT ?",
            (limit,),
        )

    def counts(self) -> dict[str, int]:
        row = self._rows(
            "SELECT (SELECT count(*) FROM messages) AS messages, "
            "(SELECT count(*) FROM messages WHERE indexed = 0) AS unindexed, "
            "(SELECT count(*) FROM entities) AS entities, "
            "(SELECT count(*) FROM (SELECT 1 FROM relations GROUP BY subject_id, predicate, object_id)) AS relations, "
            "(SELECT count(DISTINCT key) FROM preferences) AS preferences, "
            "(SELECT count(DISTINCT room) FROM messages) AS rooms"
        )[0]
        return dict(row)

    # -- forgetting ------------------------------------------------------------------------

    def _drop_orphans(self) -> None:
        # An entity nothing mentions any more was only known from forgotten messages.
        self._db.execute("DELETE FROM entities WHERE id NOT IN (SELECT entity_id FROM mentions)")

    def forget_message(self, entry_id: str) -> int:
        with self._lock:
            count = self._db.execute("DELETE FROM messages WHERE id = ?", (entry_id,)).rowcount
            self._drop_orphans()
            return count

    def forget_room(self, room: str) -> list[str]:
        """Delete a room's messages (and what was learned from them); returns their ids."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                ids = [row[0] for row in self._db.execute("SELECT id FROM messages WHERE room = ?", (room,))]
                self._db.execute("DELETE FROM messages WHERE room = ?", (room,))
                self._drop_orphans()
                self._db.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            return ids

    def forget_entity(self, entity_id: int) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM entities WHERE id = ?", (entity_id,)).rowcount

    def forget_fact(self, relation_id: int) -> int:
        """Forget a fact: every statement of the same relation, so an older one does not bring it back."""
        with self._lock:
            row = self._db.execute(
                "SELECT subject_id, predicate, object_id FROM relations WHERE id = ?", (relation_id,)
            ).fetchone()
            if row is None:
                return 0
            self._db.execute(
                "DELETE FROM relations WHERE subject_id IS ? AND predicate = ? AND object_id = ?", tuple(row)
            )
            return 1

    def fact(self, relation_id: int) -> dict[str, Any] | None:
        """One fact (``subject`` None: the user) by the id of one of its statements."""
        rows = self._rows("SELECT id, subject_id, predicate, object_id, ts FROM relations WHERE id = ?", (relation_id,))
        facts = self._aggregate(rows, 1)
        return facts[0] if facts else None

    def forget_preference(self, preference_id: int) -> int:
        """Forget a preference: every time it was expressed, so an older value does not come back."""
        with self._lock:
            row = self._db.execute("SELECT key FROM preferences WHERE id = ?", (preference_id,)).fetchone()
            if row is None:
                return 0
            self._db.execute("DELETE FROM preferences WHERE key = ?", (row[0],))
            return 1
