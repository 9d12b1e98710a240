"""The session store's file format: JSON documents, their kinds and versions, and text cleaning.

Generic file safety (new files, locks, fsync, moving aside) lives in ``nanofolks_core.atomic``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.text import clean_text

from .errors import SessionCorruptError, SessionTooNewError

FORMAT_VERSION = 1
HEAD_KIND = "nanofolks.session.head"
SEGMENT_KIND = "nanofolks.session.segment"
TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"

SEGMENT_RE = re.compile(r"seg-[0-9]+-[A-Za-z0-9_]+\.json")

# A JSON escape of a surrogate code point: how older versions stored undecodable input.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def clean_json(value: Any) -> Any:
    """``value`` with every string (keys too) passed through ``clean_text`` (no lone surrogates)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_json(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def dumps(obj: Any) -> bytes:
    """UTF-8 JSON plus a newline. Lone surrogates (which UTF-8 cannot encode and no model API
    accepts) are stored as U+FFFD, so nothing stored can break a later request."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(clean_json(obj), ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def load_doc(data: bytes, kind: str, path: Path) -> dict[str, Any]:
    """Parse one stored document and check its kind and format version.

    Lone surrogates written by older versions come back as U+FFFD.
    """
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        problem = "is empty" if not data.strip() else f"is not valid UTF-8 JSON ({exc})"
        raise SessionCorruptError(f"{path} {problem}") from exc
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        raise SessionCorruptError(f"{path} is not a {kind} file")
    fmt = doc.get("format")
    if not isinstance(fmt, int) or fmt < 1:
        raise SessionCorruptError(f"{path} has a missing or invalid format version {fmt!r}")
    if fmt > FORMAT_VERSION:
        raise SessionTooNewError(
            f"{path}: format version {fmt} was written by a newer nanofolks "
            f"(this one reads up to {FORMAT_VERSION}); upgrade nanofolks"
        )
    if _ESCAPED_SURROGATE.search(data):
        doc = clean_json(doc)
    return doc


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


@attrs.define
class Head:
    """A room's head as read (or rebuilt): what the store commits on top of."""

    raw: bytes | None  # exact bytes read; None when head.json does not exist
    version: int = 0
    deleted: bool = False
    segments: list[dict[str, Any]] = attrs.Factory(list)
    recent_ids: list[str] = attrs.Factory(list)
    messages: list[dict[str, Any]] = attrs.Factory(list)
    rebuilt: bool = False  # made from the segments on disk: head.json is missing or damaged
    blocked: str | None = None  # head.json is damaged and could not be moved aside: never write over it


def parse_head(raw: bytes, path: Path) -> Head:
    """Parse ``head.json``; ``SessionCorruptError`` (or ``SessionTooNewError``) if it is not one."""
    doc = load_doc(raw, HEAD_KIND, path)
    version, segments = doc.get("version"), doc.get("segments")
    messages, recent = doc.get("messages"), doc.get("recent_ids", [])
    if (
        not isinstance(version, int)
        or version < 0
        or not isinstance(segments, list)
        or not isinstance(messages, list)
        or not isinstance(recent, list)
        or not all(
            isinstance(s, dict)
            and isinstance(s.get("file"), str)
            and SEGMENT_RE.fullmatch(s["file"])
            and isinstance(s.get("count"), int)
            for s in segments
        )
    ):
        raise SessionCorruptError(f"{path} is not a well-formed session head")
    return Head(
        raw=raw,
        version=version,
        deleted=bool(doc.get("deleted")),
        segments=segments,
        recent_ids=[i for i in recent if isinstance(i, str)],
        messages=[m for m in messages if isinstance(m, dict)],  # a non-object is skipped, not fatal
    )


def segment_messages(path: Path, expected_count: int | None = None) -> list[Any]:
    """The messages of one segment file; ``SessionCorruptError`` naming it if missing or damaged."""
    raw = read_bytes(path)
    if raw is None:
        raise SessionCorruptError(f"{path} is missing")
    doc = load_doc(raw, SEGMENT_KIND, path)
    part = doc.get("messages")
    if not isinstance(part, list):
        raise SessionCorruptError(f"{path} holds no message list")
    if expected_count is not None and len(part) != expected_count:
        raise SessionCorruptError(f"{path} holds {len(part)} messages, its head says {expected_count}")
    return part
