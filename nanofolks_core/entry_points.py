"""Finding installed plugins: a small, fast reader of entry-point metadata.

It reads what ``importlib.metadata.entry_points(group=...)`` reads — ``entry_points.txt`` and
the metadata headers in each ``*.dist-info`` / ``*.egg-info`` folder on ``sys.path``, first
one of a distribution wins — but without importing ``importlib.metadata`` (email parsing,
zipfile ...) or building objects for the hundreds of distributions that are not plugins.
That is most of ``nanofolks plugins list``'s start-up budget (see docs/performance.md).
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

_NORMALIZE = re.compile(r"[-_.]+")


class PluginEntryPoint:
    """One entry point of the group, with its distribution's name, version and folder."""

    __slots__ = ("name", "value", "dist_name", "dist_version", "_meta_dir")

    def __init__(self, name: str, value: str, dist_name: str, dist_version: str, meta_dir: str) -> None:
        self.name = name
        self.value = value
        self.dist_name = dist_name
        self.dist_version = dist_version
        self._meta_dir = meta_dir

    def load(self) -> Any:
        """Import the module (and attribute, for ``module:attr`` values) the entry point names."""
        from nanofolks_core.specs import import_object

        return import_object(self.value)

    def installed_at(self) -> float:
        """When the distribution was installed (its metadata folder's mtime): first-installed wins name clashes."""
        try:
            return os.stat(self._meta_dir).st_mtime
        except OSError:
            return float("inf")

    def keywords(self) -> list[str]:
        """The distribution's ``Keywords`` (read only when asked: disabled plugins' kinds)."""
        headers = _read_headers(self._meta_dir)
        return [word for word in re.split(r"[,\s]+", headers.get("keywords", "")) if word]

    def __repr__(self) -> str:
        return f"PluginEntryPoint({self.name!r}, {self.value!r}, {self.dist_name} {self.dist_version})"


def _read_headers(meta_dir: str) -> dict[str, str]:
    for file_name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta_dir, file_name), encoding="utf-8") as fh:
                headers: dict[str, str] = {}
                for line in fh:
                    if not line.strip():
                        break  # headers end at the first blank line; the description follows
                    key, sep, value = line.partition(":")
                    if sep and not line[0].isspace():
                        headers.setdefault(key.strip().lower(), value.strip())
                return headers
        except FileNotFoundError:
            continue
    return {}


def _entries_in(path: str, group: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries, in_group = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            in_group = line[1:-1].strip() == group
        elif in_group and "=" in line:
            name, _, value = line.partition("=")
            entries.append((name.strip(), value.split("[", 1)[0].strip()))
    return entries


def scan(group: str, path: list[str] | None = None) -> list[PluginEntryPoint]:
    """Entry points of ``group`` from every distribution on ``path`` (default ``sys.path``)."""
    found: list[PluginEntryPoint] = []
    seen: set[str] = set()
    for folder in path if path is not None else sys.path:
        try:
            names = os.listdir(folder or ".")
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in names:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            stem = entry.rsplit(".", 1)[0]
            dist_key = _NORMALIZE.sub("-", stem.split("-", 1)[0]).lower()
            if dist_key in seen:
                continue
            seen.add(dist_key)
            meta_dir = os.path.join(folder or ".", entry)
            entries = _entries_in(os.path.join(meta_dir, "entry_points.txt"), group)
            if not entries:
                continue
            headers = _read_headers(meta_dir)
            dist_name = headers.get("name", stem.split("-", 1)[0])
            version = headers.get("version", stem.split("-", 1)[1] if "-" in stem else "?")
            found.extend(PluginEntryPoint(n, v, dist_name, version, meta_dir) for n, v in entries)
    return sorted(found, key=lambda ep: ep.name)
