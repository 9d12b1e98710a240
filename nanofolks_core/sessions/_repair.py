"""Damage handling for the session store: rebuild a room from its intact segments, move damaged
files aside, sweep only what is provably superseded, and the health checks behind ``nanofolks doctor``.

Nothing here deletes a file that may hold the only copy of a message.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nanofolks_core import atomic

from . import _fs
from ._fs import Head
from .errors import SessionCorruptError, SessionTooNewError

if TYPE_CHECKING:
    from nanofolks_core.contracts import Check

    from .store import FileSessionStore

REPAIR_HINT = "run `nanofolks doctor --repair`"


def committed_head(path: Path) -> Head | None:
    """The committed head as stored, or None when it is missing or damaged (no repair, no rebuild)."""
    raw = _fs.read_bytes(path)
    if raw is None:
        return None
    try:
        return _fs.parse_head(raw, path)
    except SessionTooNewError:
        raise
    except SessionCorruptError:
        return None


def segment_files(folder: Path) -> list[str]:
    """Names of the ``seg-`` files in a room folder, sorted."""
    try:
        return sorted(e.name for e in os.scandir(folder) if _fs.SEGMENT_RE.fullmatch(e.name))
    except FileNotFoundError:
        return []


def messages_from_segments(
    folder: Path, names: list[str]
) -> tuple[list[dict[str, Any]], list[tuple[Path, SessionCorruptError]]]:
    """Every message of the segments ``names`` (of a damaged one, the intact messages before the
    damage), in history order, each id once; plus (file, error) for each damaged segment."""
    parts, damaged = [], []
    for name in names:
        path = folder / name
        try:
            messages = _fs.segment_messages(path)
            doc_index = int(name.split("-")[1])
        except SessionTooNewError:
            raise
        except SessionCorruptError as exc:
            damaged.append((path, exc))
            messages = _fs.salvage_messages(_fs.read_bytes(path))  # what survived the damage
            doc_index = int(name.split("-")[1])
        parts.append((doc_index, name, messages))
    out, seen = [], set()
    for _index, _name, messages in sorted(parts):
        for m in messages:
            if isinstance(m, dict) and m.get("id") not in seen:
                seen.add(m.get("id"))
                out.append(m)
    return out, damaged


def rebuilt_head(store: FileSessionStore, path: Path, *, quiet: bool = False, damaged_head: bytes = b"") -> Head:
    """A head made from the segments on disk (then the intact messages of ``damaged_head``), for a
    room whose ``head.json`` is missing (a new room when there is nothing to rebuild from). Nothing
    is written here: the next commit stores it. Its version comes from the clock, so no version an
    earlier head had is reused."""
    names = segment_files(path.parent)
    from_head = _fs.salvage_messages(damaged_head)
    if not names and not from_head:
        return Head(raw=None)
    messages, damaged = messages_from_segments(path.parent, names)
    seen = {m.get("id") for m in messages}
    messages += [m for m in from_head if m["id"] not in seen]
    if not quiet:
        for seg, exc in damaged:
            store._warn(str(seg), f"{exc}; not used to rebuild the room ({REPAIR_HINT})")
        store._warn(
            str(path),
            f"{path} is missing; rebuilt room {path.parent.name!r} from {len(names) - len(damaged)} intact "
            f"segment file(s), {len(messages)} messages (stored with the next message, or now: {REPAIR_HINT})",
        )
    ids = [m.get("id") for m in messages]
    return Head(
        raw=None,
        version=int(time.time() * 1000),
        recent_ids=[i for i in ids if isinstance(i, str)][-512:],
        messages=messages,
        rebuilt=True,
    )


def set_head_aside(store: FileSessionStore, path: Path, raw: bytes, problem: SessionCorruptError) -> Head:
    """``head.json`` is damaged: move it aside (under the room lock, if nobody fixed it meanwhile),
    store the room rebuilt from its intact segments and return the new head. If it cannot be moved
    (read-only folder), the rebuilt history is still readable, but writes refuse to replace the
    damaged file."""
    try:
        with atomic.file_lock(path.parent / _fs.LOCK_NAME):
            if _fs.read_bytes(path) != raw:
                return store._load_head(path)  # changed meanwhile: read what is there now
            aside = atomic.move_aside(path)
            store._warned.add(str(path))  # the line below says it all
            head = rebuilt_head(store, path, quiet=True, damaged_head=raw)
            store._warn(
                str(aside),
                f"{problem}; moved it aside to {aside.name} and rebuilt room {path.parent.name!r} from what is "
                f"intact ({len(head.messages)} messages)",
            )
            try:
                done = store_rebuilt(store, path, head)
            except OSError:
                return head  # readable as rebuilt; the next append stores it
            for line in done[:-1]:  # damaged segments moved aside too
                store._warn(line, f"room {path.parent.name!r}: {line}")
            return store._load_head(path)
    except OSError as exc:
        head = rebuilt_head(store, path, quiet=True, damaged_head=raw)
        head.raw, head.rebuilt, head.blocked = raw, True, exc.strerror or str(exc)
        store._warn(
            str(path),
            f"{problem}; could not move it aside ({head.blocked}), so room {path.parent.name!r} shows what its "
            f"segments hold; make {path.parent} writable and {REPAIR_HINT}",
        )
        return head


def store_rebuilt(store: FileSessionStore, path: Path, head: Head) -> list[str]:
    """Caller holds the room lock and ``head.json`` is absent: commit ``head`` (rebuilt from the
    segments) as the room's history, and move the segments that could not be read aside."""
    done = []
    for seg, exc in messages_from_segments(path.parent, segment_files(path.parent))[1]:
        aside = atomic.move_aside(seg)
        done.append(f"moved damaged {seg.name} aside to {aside.name} ({exc})")
    plan = _fs.full_plan(path.parent.name, path, head.messages, head.version + 1)
    if not store._commit(path, None, plan):
        store._discard(plan, path)
        raise SessionCorruptError(f"{path} changed while the room was being rebuilt; run the repair again")
    atomic.fsync_dir(path.parent)
    done.append(f"rebuilt {path.name} from the intact segments: {len(head.messages)} messages")
    return done


def history_ids(folder: Path, head: Head) -> set[Any]:
    """Ids of every message the committed history holds (unreadable segments contribute none)."""
    ids = {m.get("id") for m in head.messages}
    for seg in head.segments:
        try:
            ids.update(m.get("id") for m in _fs.segment_messages(folder / seg["file"]) if isinstance(m, dict))
        except SessionCorruptError:
            continue
    return ids


def superseded(folder: Path, head: Head, candidates: list[str]) -> list[str]:
    """The unreferenced segments among ``candidates`` whose every message is in the history."""
    if not candidates:
        return []
    known = history_ids(folder, head)
    out = []
    for name in candidates:
        try:
            messages = _fs.segment_messages(folder / name)
        except SessionCorruptError:
            continue  # cannot prove anything about it: keep it
        if all(isinstance(m, dict) and m.get("id") in known for m in messages):
            out.append(name)
    return out


def sweep(folder: Path, older_than: float) -> int:
    """Under the room lock: delete ``.tmp-`` files (never committed) and unreferenced segments whose
    messages are all in the committed history, older than ``older_than`` seconds. Segments are left
    alone while ``head.json`` is missing or damaged: then they are what the room is rebuilt from."""
    removed = 0
    now = time.time()
    with atomic.file_lock(folder / _fs.LOCK_NAME):
        head = committed_head(folder / "head.json")
        referenced = {s["file"] for s in head.segments} if head else set()
        candidates = []
        for entry in os.scandir(folder):
            try:
                old = now - entry.stat().st_mtime >= older_than
            except FileNotFoundError:
                continue
            if not old:
                continue
            if entry.name.startswith(_fs.TMP_PREFIX):
                atomic.unlink_quietly(Path(entry.path))
                removed += 1
            elif head is not None and _fs.SEGMENT_RE.fullmatch(entry.name) and entry.name not in referenced:
                candidates.append(entry.name)
        for name in superseded(folder, head, candidates) if head is not None else []:
            atomic.unlink_quietly(folder / name)
            removed += 1
    return removed


# ---------------------------------------------------------------------- repair and checks


def repair_room(store: FileSessionStore, room: str) -> list[str]:
    """See ``FileSessionStore.repair``."""
    path = store.path_for(room)
    folder = path.parent
    if not folder.is_dir():
        return []
    done: list[str] = []
    with atomic.storage_errors(folder), atomic.file_lock(folder / _fs.LOCK_NAME):
        raw = _fs.read_bytes(path)
        head = None
        if raw is not None:
            try:
                _fs.parse_head(raw, path)
            except SessionTooNewError:
                raise
            except SessionCorruptError as exc:
                aside = atomic.move_aside(path)
                done.append(f"moved damaged {path.name} aside to {aside.name} ({exc})")
                head = rebuilt_head(store, path, quiet=True, damaged_head=raw)
        store._warned.add(str(path))  # what we do is reported here, not as a warning
        head = head or store._load_head(path)
        if head.rebuilt:
            return done + store_rebuilt(store, path, head)
        segments, bad, damaged = [], False, []
        for seg in head.segments:
            seg_path = folder / seg["file"]
            try:
                _fs.segment_messages(seg_path, expected_count=seg["count"])
                segments.append(seg)
                continue
            except SessionTooNewError:
                raise
            except SessionCorruptError as exc:
                problem = exc
            bad = True
            intact = _fs.salvage_messages(_fs.read_bytes(seg_path))
            if intact:  # keep what survived, in its place in the history
                copy = _fs.write_segment(folder, room, int(seg["file"].split("-")[1]), intact)
                segments.append({"file": copy.name, "count": len(intact)})
            lost = f"{len(intact)} of {seg['count']} messages kept"
            if seg_path.exists():
                damaged.append((seg_path, f"{lost}; {problem}"))
            else:
                done.append(f"dropped missing {seg['file']} ({seg['count']} messages) from the room's index")
        if bad:
            atomic.fsync_dir(folder)  # the salvaged segments are durable before the head names them
            data = _fs.head_bytes(
                room, head.version + 1, segments, head.recent_ids, head.messages, deleted=head.deleted
            )
            tmp = atomic.write_new_file(folder, _fs.TMP_PREFIX + "head-", ".json", data)
            atomic.replace_with(tmp, path)
            atomic.fsync_dir(folder)
        # Only once the new head names the salvaged copies: a crash before this point leaves the
        # damaged originals where the old head expects them, so a second repair starts over.
        for seg_path, what in damaged:
            aside = atomic.move_aside(seg_path)
            done.append(f"moved damaged {seg_path.name} aside to {aside.name} ({what})")
    return done


def inspect_room(folder: Path) -> tuple[list[str], str]:
    """Read-only look at one room folder: (problems, summary). Moves and writes nothing."""
    path = folder / "head.json"
    names = segment_files(folder)
    raw = _fs.read_bytes(path)
    if raw is None:
        if names:
            return [f"{path} is missing but {len(names)} segment file(s) hold history"], ""
        return [], "empty"
    try:
        head = _fs.parse_head(raw, path)
    except SessionCorruptError as exc:
        return [str(exc)], ""
    if head.deleted:
        return [], "deleted (tombstone kept)"
    problems, count = [], len(head.messages)
    for seg in head.segments:
        try:
            part = _fs.segment_messages(folder / seg["file"], expected_count=seg["count"])
        except SessionCorruptError as exc:
            intact = len(_fs.salvage_messages(_fs.read_bytes(folder / seg["file"])))
            problems.append(f"{exc} ({intact} of its {seg['count']} messages are intact)")
            continue
        count += len(part)
    referenced = {s["file"] for s in head.segments}
    leftover = [n for n in names if n not in referenced]
    kept = len(leftover) - len(superseded(folder, head, leftover))
    note = f"; {kept} unreferenced segment file(s) kept (left by interrupted writes)" if kept else ""
    return problems, f"{count} messages in {len(head.segments)} segment file(s) and the head{note}"


def doctor(store: FileSessionStore, repair: bool) -> list[Check]:
    """One ``Check`` per room history (see ``FileSessionStore.doctor``)."""
    from nanofolks_core.contracts import Check

    checks = []
    for room in store._room_dirs():
        name = f"history {room}"
        done: list[str] = []
        try:
            if repair:
                done = repair_room(store, room)
            problems, summary = inspect_room(store.root / room)
        except Exception as exc:  # noqa: BLE001 - one broken room must not stop the others' checks
            checks.append(Check(name, False, f"{exc}"))
            continue
        if problems:
            hint = "fix the folder and run it again" if repair else f"{REPAIR_HINT} to move damaged files aside"
            checks.append(Check(name, False, "; ".join(problems) + f" - {hint}"))
        elif done:
            checks.append(Check(name, True, "; ".join(done) + f"; now {summary}", repaired=True))
        else:
            checks.append(Check(name, True, summary))
    return checks
