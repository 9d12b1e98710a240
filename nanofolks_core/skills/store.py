"""What the core remembers about skills, under ``<data root>/skills/``:

- ``approvals.json``: ``{name: {hash, risk, forced, approved_at, path}}``, what the user approved;
- ``scans.json``: findings per content hash and scanner set, so an unchanged skill is never
  scanned twice (``skills list`` stays fast).

Both are replaced atomically under a lock. A damaged approvals file is moved aside (the skills it
approved wait for approval again: the safe way round) and a damaged scan cache is rebuilt.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.atomic import atomic_write_text, file_lock, move_aside, private_dir, storage_error, storage_errors
from nanofolks_core.contracts import Finding
from nanofolks_core.errors import StorageError

log = logging.getLogger("nanofolks.skills")
#: Most cached scans kept; the oldest go first (each skill version is one entry).
MAX_CACHED_SCANS = 500


@attrs.frozen(kw_only=True)
class Approval:
    """The user's go-ahead for one skill, valid only for the content it was given for."""

    name: str
    content_hash: str
    risk: str
    forced: bool = False
    approved_at: str = ""
    path: str = ""


@attrs.frozen(kw_only=True)
class ScanResult:
    """One scan of one skill version: its findings, and which scanners looked (``scanner``)."""

    scanner: str
    findings: tuple[Finding, ...] = ()
    scanned_at: str = ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SkillStateStore:
    """Approvals and the scan cache of one data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.approvals_path = self.folder / "approvals.json"
        self.scans_path = self.folder / "scans.json"
        self._lock = self.folder / ".lock"

    # -- reading -------------------------------------------------------------------------

    def _read(self, path: Path, key: str) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get(key), dict):
                raise ValueError(f"no {key!r} object")
            return data[key]
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise storage_error(exc, path) from exc
        except (ValueError, UnicodeDecodeError) as exc:
            try:
                with file_lock(self._lock):
                    aside = move_aside(path)
                log.warning("%s was damaged (%s); moved it to %s and started afresh", path, exc, aside.name)
            except OSError:
                log.warning("%s is damaged (%s) and cannot be moved aside; ignoring it", path, exc)
            return {}

    def approvals(self) -> dict[str, Approval]:
        result = {}
        for name, row in self._read(self.approvals_path, "approvals").items():
            try:
                result[name] = Approval(
                    name=name,
                    content_hash=str(row["hash"]),
                    risk=str(row.get("risk", "")),
                    forced=bool(row.get("forced", False)),
                    approved_at=str(row.get("approved_at", "")),
                    path=str(row.get("path", "")),
                )
            except (KeyError, TypeError):
                log.warning("%s: approval of %r has no hash; ignoring it", self.approvals_path, name)
        return result

    def cached_scan(self, content_hash: str, scanner: str) -> ScanResult | None:
        """The cached scan of this content by this scanner set, or None."""
        try:
            row = self._read(self.scans_path, "scans").get(content_hash)
        except StorageError as exc:  # the cache is only a shortcut: scan again
            log.warning("%s", exc)
            return None
        if not isinstance(row, dict) or row.get("scanner") != scanner:
            return None
        try:
            findings = tuple(Finding(**f) for f in row["findings"])
        except (KeyError, TypeError):
            return None
        return ScanResult(scanner=scanner, findings=findings, scanned_at=str(row.get("scanned_at", "")))

    # -- writing -------------------------------------------------------------------------

    def _update(self, path: Path, key: str, change: Any) -> None:
        with storage_errors(path):
            private_dir(self.folder)
            with file_lock(self._lock):
                table = self._read(path, key)
                change(table)
                atomic_write_text(path, json.dumps({"version": 1, key: table}, indent=2, ensure_ascii=False))

    def approve(self, approval: Approval) -> None:
        row = attrs.asdict(approval)
        row["hash"] = row.pop("content_hash")
        row.pop("name")
        row["approved_at"] = row["approved_at"] or _now()
        self._update(self.approvals_path, "approvals", lambda table: table.__setitem__(approval.name, row))

    def revoke(self, name: str) -> bool:
        """Forget the approval of ``name``; False if there was none."""
        removed = []

        def change(table: dict[str, Any]) -> None:
            if table.pop(name, None) is not None:
                removed.append(name)

        self._update(self.approvals_path, "approvals", change)
        return bool(removed)

    def save_scan(self, content_hash: str, result: ScanResult) -> None:
        """Cache a scan. Best effort: a read-only data folder only costs a re-scan next time."""
        row = {
            "scanner": result.scanner,
            "findings": [attrs.asdict(f) for f in result.findings],
            "scanned_at": result.scanned_at or _now(),
        }

        def change(table: dict[str, Any]) -> None:
            table[content_hash] = row
            for old in sorted(table, key=lambda h: str(table[h].get("scanned_at", "")))[:-MAX_CACHED_SCANS]:
                del table[old]

        try:
            self._update(self.scans_path, "scans", change)
        except Exception as exc:  # noqa: BLE001 - a cache that cannot be written is not an error
            log.warning("could not cache the scan in %s: %s", self.scans_path, exc)
