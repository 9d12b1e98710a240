"""Where nanofolks keeps its files. ``NANOFOLKS_HOME`` relocates all of them."""

from __future__ import annotations

import os
from pathlib import Path


def data_root() -> Path:
    """The data root: ``$NANOFOLKS_HOME`` or ``~/.nanofolks``."""
    home = os.environ.get("NANOFOLKS_HOME")
    return Path(home).expanduser() if home else Path.home() / ".nanofolks"


def config_path() -> Path:
    """The user config file, ``<data root>/config.json``."""
    return data_root() / "config.json"


def resolve_inside(folder: Path, relative: str, what: str) -> Path:
    """``folder / relative`` resolved, refusing anything that leaves ``folder``.

    ``..``, absolute paths and symlinks pointing out all resolve outside, and raise
    ``PermissionError("'<relative>' is outside <what>")`` (what the model or user sees).
    """
    root = Path(folder).resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise PermissionError(f"{relative!r} is outside {what}")
    return target
