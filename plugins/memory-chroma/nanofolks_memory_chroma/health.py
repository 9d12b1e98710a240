"""``doctor(repair)`` for the chroma memory: is the event log sound, and is every logged message searchable?

Each check is a :class:`~nanofolks_core.api.Check`; a repaired one is ``ok`` with ``repaired`` set.
Repairs never delete: a damaged file is moved aside first. The event log and the search index
each hold every message, so either one rebuilds the other (the index by re-embedding the log's
text, the log from the index's documents).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nanofolks_core.api import Check, file_lock
from nanofolks_memory_chroma.disk import move_aside, sqlite_files
from nanofolks_memory_chroma.recovery import Opened, rebuild_vectors, restore_log
from nanofolks_memory_chroma.store import MemoryStore
from nanofolks_memory_chroma.vectors import VectorStoreError

if TYPE_CHECKING:
    from nanofolks_memory_chroma.backend import ChromaMemory

LOG, INDEX = "memory event log", "memory search index"


def run_checks(memory: ChromaMemory, repair: bool) -> list[Check]:
    """The event log's integrity, then the search index and how much of the log it covers."""
    with file_lock(memory.root / ".lock", unlocked_if_unwritable=True):
        checks = [_check_log(memory, repair)]
        checks.append(_check_index(memory, repair))
    return checks


def _check_log(memory: ChromaMemory, repair: bool) -> Check:
    if memory.store is None:
        return Check(LOG, False, memory.unavailable or "not open")
    try:
        problems = memory.store.integrity_problems()
    except Exception as exc:  # noqa: BLE001 - a check reports, it does not crash
        problems = [f"{type(exc).__name__}: {exc}"]
    if not problems:
        counts = memory.store.counts()
        return Check(LOG, True, f"{memory.store.path}: intact, {counts['messages']} message(s)")
    found = "; ".join(problems[:3])
    if not repair:
        return Check(
            LOG,
            False,
            f"{memory.store.path} is damaged ({found}); `--repair` moves it aside and "
            "rebuilds it from the search index",
        )
    path = memory.store.path
    memory.store.close()
    moved = move_aside(*sqlite_files(path))
    memory.store = MemoryStore(path)
    restored = restore_log(memory.store, memory.vectors) if memory.vectors is not None else 0
    memory.repairs.add(f"{path.name} damaged: {found}", moved, f"rebuilt {restored} message(s) from the search index")
    return Check(
        LOG,
        True,
        f"{path} was damaged ({found}); moved it to {moved[0].name} and rebuilt "
        f"{restored} message(s) from the search index",
        repaired=True,
    )


def _check_index(memory: ChromaMemory, repair: bool) -> Check:
    if memory.store is None:
        return Check(INDEX, False, memory.unavailable or "not open")
    damage = None
    if memory.vectors is None:
        damage = memory.search_unavailable or "not open"
    else:
        try:
            stored = memory.vectors.ids()
        except VectorStoreError as exc:
            damage = str(exc)
    if damage is not None:
        if not repair or memory.config.host:
            how = (
                "start the Chroma server"
                if memory.config.host
                else "`--repair` moves it aside and rebuilds it from the event log"
            )
            return Check(INDEX, False, f"{damage}; {how}")
        return _rebuild_index(memory, damage)
    missing = [entry_id for entry_id in memory.store.searchable() if entry_id not in stored]
    waiting = memory.store.counts()["unindexed"]
    if not missing and not waiting:
        return Check(INDEX, True, f"{len(stored)} vector(s); every logged message is searchable")
    detail = f"{len(missing) + waiting} logged message(s) are not searchable ({len(stored)} vector(s))"
    if not repair:
        return Check(INDEX, False, f"{detail}; `--repair` embeds them now")
    memory.store.mark_unindexed(missing)
    done = memory._index_backlog()
    return Check(INDEX, True, f"{detail}; embedded {done} message(s)", repaired=True)


def _rebuild_index(memory: ChromaMemory, damage: str) -> Check:
    opened = Opened(store=memory.store)
    args: dict[str, Any] = memory._vector_args
    problem = rebuild_vectors(opened, memory.root / "chroma", args, memory.repairs, damage)
    if problem is not None:
        return Check(INDEX, False, problem)
    memory.vectors, memory.search_unavailable = opened.vectors, None
    done = memory._index_backlog()
    return Check(
        INDEX,
        True,
        f"{damage}; moved the index aside and rebuilt it from the event log ({done} message(s) embedded)",
        repaired=True,
    )
