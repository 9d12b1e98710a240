"""The session store's file format: JSON documents, their kinds and versions, text cleaning,
and writing the files of one commit (segments and the new head) before it is made.

Generic file safety (new files, locks, fsync, moving aside) lives in ``nanofolks_core.atomic``.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core import atomic
from nanofolks_core.text import clean_text

from .errors import SessionCorruptError, SessionTooNewError

FORMAT_VERSION = 1
HEAD_KIND = "nanofolks.session.head"
SEGMENT_KIND = "nanofolks.session.segment"
TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
HEAD_MAX_MESSAGES = 256
RECENT_IDS = 512

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


def salvage_messages(raw: bytes | None) -> list[dict[str, Any]]:
    """The complete message objects at the start of a damaged file's ``"messages"`` list (what
    survives a truncation), each with an ``id``; [] when nothing can be recovered."""
    if not raw:
        return []
    text = raw.decode("utf-8", "replace")
    start = text.find('"messages":[')
    if start < 0:
        return []
    decoder, pos, out = json.JSONDecoder(), start + len('"messages":['), []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        try:
            item, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            break
        out.append(item)
    return clean_json(out) if _ESCAPED_SURROGATE.search(raw) else out


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


@attrs.define
class Plan:
    """The files written for one commit: the new head (a temp file until committed) and new segments."""

    tmp: Path
    version: int
    new_segments: list[Path]


def head_bytes(
    room: str,
    version: int,
    segments: list[dict[str, Any]],
    recent: list[str],
    messages: list[dict[str, Any]],
    *,
    deleted: bool = False,
) -> bytes:
    """A head document; every commit carries a fresh random ``commit`` token (no ABA)."""
    return dumps(
        {
            "format": FORMAT_VERSION,
            "kind": HEAD_KIND,
            "room": room,
            "version": version,
            "commit": uuid.uuid4().hex,
            "deleted": deleted,
            "segments": segments,
            "recent_ids": recent,
            "messages": messages,
        }
    )


def write_segment(folder: Path, room: str, index: int, messages: list[dict[str, Any]]) -> Path:
    """A new complete segment file holding ``messages`` (history position ``index`` on)."""
    doc = {"format": FORMAT_VERSION, "kind": SEGMENT_KIND, "room": room, "first_index": index}
    # Written under a temp name and renamed when complete: a killed writer leaves a .tmp- file,
    # never a half-written seg- file that could be mistaken for damage.
    tmp = atomic.write_new_file(folder, f"{TMP_PREFIX}seg-", ".json", dumps({**doc, "messages": messages}))
    seg = folder / f"seg-{index:010d}-{uuid.uuid4().hex[:12]}.json"
    atomic.replace_with(tmp, seg)  # a fresh random name: nothing is replaced
    return seg


def write_plan(
    room: str,
    path: Path,
    frozen: list[dict[str, Any]],
    head_msgs: list[dict[str, Any]],
    first_index: int,
    version: int,
    segments: list[dict[str, Any]],
    recent: list[str],
) -> Plan:
    """Write ``frozen`` as new full segments and a temp head naming them plus ``head_msgs``.
    Nothing is left behind if writing fails (a full disk, a read-only folder)."""
    folder = path.parent
    written: list[Path] = []
    try:
        for start in range(0, len(frozen), HEAD_MAX_MESSAGES):
            chunk = frozen[start : start + HEAD_MAX_MESSAGES]
            seg = write_segment(folder, room, first_index + start, chunk)
            written.append(seg)
            segments.append({"file": seg.name, "count": len(chunk)})
        if written:
            atomic.fsync_dir(folder)  # segment names durable before any head names them
        tmp = atomic.write_new_file(
            folder, TMP_PREFIX + "head-", ".json", head_bytes(room, version, segments, recent, head_msgs)
        )
    except BaseException:
        for seg in written:
            atomic.unlink_quietly(seg)
        raise
    return Plan(tmp=tmp, version=version, new_segments=written)


def full_plan(room: str, path: Path, dicts: list[dict[str, Any]], version: int) -> Plan:
    """Files for a whole history: full segments, the rest in the head."""
    cut = max(len(dicts) - (len(dicts) % HEAD_MAX_MESSAGES or HEAD_MAX_MESSAGES), 0)
    recent = [d["id"] for d in dicts[-RECENT_IDS:]]
    return write_plan(room, path, dicts[:cut], dicts[cut:], 0, version, [], recent)
