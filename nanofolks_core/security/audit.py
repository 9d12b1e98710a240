"""The audit log: which tool used which ``{{name}}``, when, in which room and for which bot.

One JSON object per line in ``<data folder>/security/audit.jsonl`` (owner-only). It names
references, never their values.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nanofolks_core.errors import StorageError


def audit_path(data_root: Path) -> Path:
    return Path(data_root) / "security" / "audit.jsonl"


class AuditLog:
    """Append-only JSONL of reference uses (:meth:`record`), read back by :meth:`entries`."""

    def __init__(self, data_root: Path) -> None:
        self.path = audit_path(data_root)

    def record(self, *, tool: str, references: list[str], room: str, bot: str, plugin: str = "") -> None:
        """Note that ``tool`` received the values of ``references`` (names only)."""
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "tool": tool,
            "references": sorted(set(references)),
            "room": room,
            "bot": bot,
            **({"plugin": plugin} if plugin else {}),
        }
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # One write on an O_APPEND descriptor: lines from concurrent processes do not interleave.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    line = b"\n" + line  # a line cut by a crash stays alone; this one starts fresh
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StorageError(f"cannot write the audit log {self.path}: {exc.strerror or exc}") from exc

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (all when None), oldest first; damaged lines are skipped."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot read the audit log {self.path}: {exc.strerror or exc}") from exc
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash; the rest is still good
            if isinstance(entry, dict):
                entries.append(entry)
        return entries[-limit:] if limit else entries
