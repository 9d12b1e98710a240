"""Plugins switched off at run time, remembered across processes.

When a pipeline hook raises in the gateway or a chat, the plugin is switched off in that process.
``plugins list`` runs in another one, so the switch-off is written to
``<data root>/plugin-failures.json`` (owner-only): later processes do not load the plugin and
report it as failed, with the reason, until ``nanofolks plugins enable NAME`` clears the entry or
the plugin's version changes (an upgrade may have fixed it).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

FILE_NAME = "plugin-failures.json"


def _path(data_root: Path) -> Path:
    return data_root / FILE_NAME


def load(data_root: Path) -> dict[str, dict[str, Any]]:
    """``{plugin: {"version", "reason", "when"}}``; an unreadable or damaged file counts as empty."""
    try:
        text = _path(data_root).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"warning: cannot read {_path(data_root)} ({exc}); runtime plugin failures are not shown\n")
        return {}
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {name: entry for name, entry in data.items() if isinstance(entry, dict) and "reason" in entry}


def failure_for(failures: dict[str, dict[str, Any]], name: str, version: str) -> str | None:
    """The recorded reason if ``name`` at ``version`` was switched off, else None."""
    entry = failures.get(name)
    if entry is None or str(entry.get("version", "")) != version:
        return None
    when = entry.get("when")
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(when)) if isinstance(when, (int, float)) else "earlier"
    return f"switched off at run time ({stamp}): {entry['reason']}; `nanofolks plugins enable {name}` turns it back on"


def _update(data_root: Path, change) -> bool:
    """Apply ``change(dict) -> bool`` under a lock; returns what it returned. Never raises OSError."""
    from nanofolks_core import atomic

    path = _path(data_root)
    try:
        atomic.private_dir(data_root)
        with atomic.file_lock(path.with_name(path.name + ".lock")):
            data = load(data_root)
            changed = change(data)
            if changed:
                atomic.atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
            return changed
    except OSError as exc:
        sys.stderr.write(f"warning: cannot write {path} ({exc.strerror or exc}); the switch-off lasts this run only\n")
        return False


def record(data_root: Path, name: str, version: str, reason: str) -> None:
    """Remember that ``name`` (at ``version``) was switched off because of ``reason``."""

    def change(data: dict[str, Any]) -> bool:
        data[name] = {"version": version, "reason": reason, "when": time.time()}
        return True

    _update(data_root, change)


def clear(data_root: Path, name: str) -> bool:
    """Forget ``name``'s failure; True if there was one."""
    if name not in load(data_root):
        return False
    return _update(data_root, lambda data: data.pop(name, None) is not None)
