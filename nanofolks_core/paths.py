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
