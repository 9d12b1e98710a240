"""Opening the memory folder safely, and putting it right when a file in it is damaged.

Memory is a help, never a requirement: whatever happens here ends in a working backend, a
degraded one (no search index, or nothing stored this run) with a one-line warning, never a
traceback. What can be rebuilt is rebuilt: the search index from the event log (re-embedding),
and the event log from the search index (each vector carries its message's text and metadata).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.api import NanofolksError, file_lock, private_dir
from nanofolks_memory_chroma.disk import (
    RepairLog,
    is_damage,
    is_storage_fault,
    make_private,
    move_aside,
    sqlite_files,
    storage_advice,
)
from nanofolks_memory_chroma.extract import extract
from nanofolks_memory_chroma.store import MemoryStore
from nanofolks_memory_chroma.vectors import VectorStore

log = logging.getLogger("nanofolks.memory")


@attrs.define
class Opened:
    """What could be opened; a ``*_problem`` says why a part is missing (None: it is there)."""

    store: MemoryStore | None = None
    vectors: VectorStore | None = None
    store_problem: str | None = None
    vectors_problem: str | None = None


def _fatal(exc: BaseException) -> bool:
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]


def open_memory(root: Path, vector_args: dict[str, Any], repairs: RepairLog) -> Opened:
    """Open ``memory.db`` and the vector store under ``root``, recovering from damage.

    Runs under the folder's inter-process lock, so any number of processes can start on a fresh
    data folder at once, and only one of them moves a damaged file aside.
    """
    try:
        private_dir(root)
    except OSError as exc:
        problem = f"memory is off for this run: {storage_advice(root, exc)} ({_why(exc)})"
        return Opened(store_problem=problem, vectors_problem=problem)
    opened = Opened()
    with file_lock(root / ".lock", unlocked_if_unwritable=True):
        log_lost = _open_store(opened, root / "memory.db", repairs)
        if opened.store is None:  # nothing could be recorded, so nothing is searched either
            opened.vectors_problem = opened.store_problem
            return opened
        _open_vectors(opened, root / "chroma", vector_args, repairs)
        if log_lost and opened.store is not None and opened.vectors is not None:
            restored = restore_log(opened.store, opened.vectors)
            if restored:
                log.warning("memory: rebuilt %d message(s) of the event log from the search index", restored)
                repairs.add("event log rebuilt", [], f"{restored} message(s) restored from the search index")
    make_private(root)
    return opened


def _open_store(opened: Opened, db: Path, repairs: RepairLog) -> bool:
    """Open the event log into ``opened``; True when a damaged one was moved aside (its content lost)."""
    try:
        opened.store = MemoryStore(db)
        return False
    except (sqlite3.Error, OSError) as exc:
        if not is_damage(exc):
            opened.store_problem = _unusable(db, exc)
            return False
        damage = _why(exc)
    try:
        moved = move_aside(*sqlite_files(db))
        opened.store = MemoryStore(db)
    except (sqlite3.Error, OSError) as exc:
        opened.store_problem = _unusable(db, exc)
        return False
    action = "started a new one; room history is not affected"
    log.warning("memory: %s was damaged (%s); moved it to %s and %s.", db, damage, moved[0].name, action)
    repairs.add(f"{db.name} damaged: {damage}", moved, action)
    return True


def _unusable(path: Path, exc: BaseException) -> str:
    if is_storage_fault(exc):
        return f"memory is off for this run: {storage_advice(path.parent, exc)} ({_why(exc)})"
    return f"memory is off for this run: {path} cannot be opened ({_why(exc)})"


def _open_vectors(opened: Opened, path: Path, vector_args: dict[str, Any], repairs: RepairLog) -> None:
    if vector_args.get("host"):
        try:
            opened.vectors = VectorStore(path=path, **vector_args)
        except NanofolksError as exc:  # the server is down: keep the log, search comes back with it
            opened.vectors_problem = f"memory search is off for this run: {exc}"
        return
    try:
        opened.vectors = VectorStore(path=path, **vector_args)
        return
    except BaseException as exc:  # chromadb raises its own errors and, from Rust, PanicException
        if _fatal(exc):
            raise
        if is_storage_fault(exc) and not is_damage(exc):
            opened.vectors_problem = f"memory search is off for this run: {storage_advice(path, exc)} ({_why(exc)})"
            return
        if not is_damage(exc):
            # Not clearly damage (busy, an unknown chromadb failure): never move files aside on a guess.
            opened.vectors_problem = (
                f"memory search is off for this run: the search index {path} cannot be opened ({_why(exc)}); "
                "`nanofolks memory doctor --repair` moves it aside and rebuilds it from the event log"
            )
            return
        damage = _why(exc)
    opened.vectors_problem = rebuild_vectors(opened, path, vector_args, repairs, damage)


def rebuild_vectors(
    opened: Opened, path: Path, vector_args: dict[str, Any], repairs: RepairLog, damage: str
) -> str | None:
    """Move the embedded vector store aside and start a new one; logged messages get re-embedded.

    Returns why search stays off, or None when the new store is open (in ``opened.vectors``).
    """
    VectorStore.forget_open_stores()
    try:
        moved = move_aside(path)
        opened.vectors = VectorStore(path=path, **vector_args)
    except BaseException as exc:
        if _fatal(exc):
            raise
        return (
            f"memory search is off for this run: {path} is damaged ({damage}) and could not be replaced ({_why(exc)})"
        )
    waiting = opened.store.mark_unindexed() if opened.store is not None else 0
    action = (
        f"started a new one; {waiting} logged message(s) get re-indexed as the crew chats "
        "(`nanofolks memory doctor --repair` does it now)"
    )
    where = f"moved it to {moved[0].name}" if moved else "it was missing"
    log.warning("memory: the search index %s was damaged (%s); %s and %s.", path, damage, where, action)
    repairs.add(f"search index damaged: {damage}", moved, action)
    return None


def restore_log(store: MemoryStore, vectors: VectorStore) -> int:
    """Put every message the search index holds back into an (empty) event log, with what it teaches."""
    rows = []
    for entry_id, text, meta in vectors.entries():
        if meta.get("room") is None or meta.get("role") is None:
            continue
        rows.append(
            {
                "id": entry_id,
                "room": str(meta["room"]),
                "role": str(meta["role"]),
                "text": text,
                "bot": meta.get("bot"),
                "channel": meta.get("channel"),
                "ts": float(meta.get("ts", 0.0)),
            }
        )
    rows.sort(key=lambda row: (row["ts"], row["id"]))
    added = store.restore_messages(rows)
    store.add_extractions([(seq, event.ts, extract(event.text, event.role)) for seq, event in added])
    return len(added)


MODEL_KEY = "embedding_model"  # memory.db meta: the model the indexed messages' vectors came from


def check_embedding_model(store: MemoryStore, vectors: VectorStore, model: str) -> int:
    """Never mix vectors of two models: after a model change every logged message waits to be re-embedded.

    Returns how many. The background worker re-embeds them a batch at a time as the crew chats
    (``memory doctor --repair`` does it at once); keyword and entity ranking cover them meanwhile.
    One warning line says so.
    """
    before = store.get_meta(MODEL_KEY) or vectors.replaced
    if before is None:
        # A log from before model ids were kept: its vectors are in this model's collection if any exist.
        if vectors.count() or not store.read("SELECT 1 FROM messages WHERE indexed = 1 LIMIT 1"):
            store.set_meta(MODEL_KEY, model)
            return 0
        before = "another model"
    if before == model and vectors.replaced is None:
        return 0
    waiting = store.mark_unindexed()
    store.set_meta(MODEL_KEY, model)
    if waiting:
        log.warning(
            "memory: the embedding model changed (%s -> %s); re-embedding %d logged message(s) in the "
            "background (`nanofolks memory doctor --repair` does it now)",
            before,
            model,
            waiting,
        )
    return waiting
