"""Large tool outputs live in SQLite and are referenced, not inlined into the conversation."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path

#: Outputs larger than this (bytes of UTF-8) are stored and referenced.
INLINE_LIMIT = 10 * 1024
PREVIEW_CHARS = 1500


class ToolOutputStore:
    """``<data root>/tool_outputs.db``: one row per large tool output."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            from nanofolks_core.atomic import private_dir, private_file

            private_dir(self.path.parent)
            private_file(self.path)  # owner-only before SQLite writes a byte (it would use the umask)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS tool_outputs (id TEXT PRIMARY KEY, room TEXT, bot TEXT, tool TEXT,"
                " created REAL, size INTEGER, content TEXT)"
            )
        return self._db

    def put(self, *, room: str, bot: str, tool: str, content: str) -> str:
        ref = uuid.uuid4().hex[:12]
        with self._lock, self._conn() as db:
            db.execute(
                "INSERT INTO tool_outputs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ref, room, bot, tool, time.time(), len(content.encode()), content),
            )
        return ref

    def get(self, ref: str) -> str | None:
        with self._lock:
            row = self._conn().execute("SELECT content FROM tool_outputs WHERE id = ?", (ref,)).fetchone()
        return row[0] if row else None

    def shrink(self, content: str, *, room: str, bot: str, tool: str) -> str:
        """``content`` itself if small; otherwise a reference with a preview."""
        size = len(content.encode())
        if size <= INLINE_LIMIT:
            return content
        ref = self.put(room=room, bot=bot, tool=tool, content=content)
        return (
            f"[{tool} output: {size} bytes, stored as tool-output:{ref}; "
            f"read more with read_tool_output(ref='{ref}', offset=...)]\n{content[:PREVIEW_CHARS]}"
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
