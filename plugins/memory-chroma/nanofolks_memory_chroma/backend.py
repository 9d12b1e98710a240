"""``ChromaMemory``: the memory backend the core builds from ``memory.chroma``.

``record`` only queues the message. One background thread writes it to the SQLite event
log, extracts entities, relations and preferences with local rules, embeds it (batched)
and adds it to the chromadb index. No LLM request is ever made here.
``context``/``search`` embed the query once and ask the HNSW index and SQLite.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import queue
import threading
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.api import MemoryEvent, MemoryHit, NanofolksError, UsageError, clean_text
from nanofolks_memory_chroma.config import ChromaMemoryConfig
from nanofolks_memory_chroma.context import build_context
from nanofolks_memory_chroma.disk import RepairLog, is_damage, is_storage_fault, make_private, sqlite_files
from nanofolks_memory_chroma.embedders import make_embedder
from nanofolks_memory_chroma.extract import extract
from nanofolks_memory_chroma.knowledge import fact_text, knowledge_hits
from nanofolks_memory_chroma.lexical import query_terms, shares_words
from nanofolks_memory_chroma.recovery import check_embedding_model, open_memory
from nanofolks_memory_chroma.retrieval import ENTITY, KEYWORD, rank
from nanofolks_memory_chroma.store import ENTITY_PREFIX, FACT_PREFIX, PREFERENCE_PREFIX
from nanofolks_memory_chroma.vectors import VectorStoreError, collection_name

log = logging.getLogger(__name__)

BATCH = 64  # messages embedded together: much faster per message than one by one
# The worker embeds this many at a time and, before each chunk, waits (at most SEARCH_FIRST_S)
# while a search runs: two numpy forward passes at once on a small machine each take about as
# long as both in a row, so a turn's context() would wait for the previous turn's indexing.
EMBED_CHUNK = 32
SEARCH_FIRST_S = 2.0
# Re-embedding after a repair happens a bit at a time, so a short `chat -m` is not held up
# at exit by a whole index rebuild (`memory doctor --repair` does it all at once).
BACKLOG_PER_BATCH = BATCH * 4
CONTEXT_MEMORIES = 8  # memories a prompt gets at most
_STOP = object()


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file()) if path.is_dir() else 0


class ChromaMemory:
    """Long-term memory in ``<data_root>/memory/``: memory.db (SQLite, WAL) and chroma/ (vectors).

    Never fatal: a damaged file is moved aside (and rebuilt from the other store where it can
    be), and an unwritable folder leaves memory off for the run, each with a one-line warning.
    ``unavailable`` / ``search_unavailable`` say why a part is off (None: it works).
    """

    name = "chroma"

    def __init__(
        self,
        *,
        spec: Any = None,
        config: ChromaMemoryConfig | None = None,
        services: Any = None,
        data_root: Path | None = None,
    ) -> None:
        self.spec = spec
        self.config = config or ChromaMemoryConfig()
        if data_root is None:
            if services is None:
                raise TypeError("ChromaMemory needs services= (or data_root=)")
            data_root = services.data_root
        self.root = Path(data_root) / "memory"
        # First, so a missing model is reported before any file is created.
        self.embedder = make_embedder(self.config.embedding, services.secret if services is not None else None)
        self.repairs = RepairLog(self.root / "repairs.jsonl")
        self._vector_args = {
            "name": collection_name(self.config.collection, self.embedder.slug),
            "host": self.config.host,
            "port": self.config.port,
            "ssl": self.config.ssl,
            "model": getattr(self.embedder, "model_id", self.embedder.name),
        }
        opened = open_memory(self.root, self._vector_args, self.repairs)
        self.store, self.vectors = opened.store, opened.vectors
        self.unavailable = opened.store_problem
        self.search_unavailable = opened.vectors_problem or self.unavailable
        for problem in {self.unavailable, self.search_unavailable} - {None}:
            log.warning("memory: %s", problem)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._searches = 0  # searches running now; the worker lets them embed their question first
        self._searches_changed = threading.Condition()
        self._closed = False
        self._bug: BaseException | None = None
        self.last_error: str | None = None
        self._warned: set[str] = set()
        if self.store is not None and self.vectors is not None:
            check_embedding_model(self.store, self.vectors, self._vector_args["model"])
        # Messages logged but not searchable yet (an earlier run stopped early, the API failed,
        # or the embedding model changed).
        self._backlog = self.store is not None and bool(self.store.unindexed(1))

    def warm(self) -> None:
        """Load the local embedding model now (``nanofolks gateway`` calls this at start-up). An API
        embedder is left alone: warming it would be a paid request."""
        warm = getattr(self.embedder, "warm", None)
        if callable(warm) and self.search_unavailable is None:
            warm()

    # -- recording (caller thread: cheap) ----------------------------------------------------

    def record(self, event: MemoryEvent) -> None:
        """Queue a message; the background worker stores, extracts and embeds it."""
        if self._closed:
            raise NanofolksError("memory is closed; this ChromaMemory cannot record any more messages")
        if self.store is None:
            return  # memory is off for this run (said once, at start)
        self._ensure_worker()
        self._queue.put(attrs.evolve(event, text=clean_text(event.text)))

    def _ensure_worker(self) -> None:
        with self._state_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="nanofolks-memory", daemon=True)
                self._worker.start()
                atexit.register(self.close)

    # -- the background worker --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            while item is not _STOP and len(batch) < BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
            events = [entry for entry in batch if entry is not _STOP]
            try:
                if events:
                    self._process(events)
            except Exception as exc:  # noqa: BLE001 - nothing may kill the worker; flush() re-raises bugs
                self._failed(exc, len(events))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if item is _STOP:
                return

    def _failed(self, exc: Exception, count: int) -> None:
        self._backlog = True
        if isinstance(exc, NanofolksError) or is_storage_fault(exc) or is_damage(exc):
            # Expected trouble (embedding API down, disk full, a damaged file): what reached the
            # log is retried later; the next start moves a damaged file aside. Said once per kind.
            self.last_error = str(exc) if isinstance(exc, NanofolksError) else f"{type(exc).__name__}: {exc}"
            if self.last_error not in self._warned:
                self._warned.add(self.last_error)
                log.warning("memory: could not store %d message(s): %s", count, self.last_error)
            return
        self._bug = self._bug or exc
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.exception("memory: failed to store %d message(s)", count)

    def _process(self, events: list[MemoryEvent]) -> None:
        added = self.store.add_messages(events)
        self.store.add_extractions([(seq, event.ts, extract(event.text, event.role)) for seq, event in added])
        if self.vectors is None:
            return  # logged, not searchable yet: indexed when the vector store is back
        self._index([(seq, event.id, event.text, self._metadata(seq, attrs.asdict(event))) for seq, event in added])
        if self._backlog:
            self._index_backlog(BACKLOG_PER_BATCH)
        self.last_error = None

    @staticmethod
    def _metadata(seq: int, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "room": fields["room"],
            "role": fields["role"],
            "bot": fields["bot"],
            "channel": fields["channel"],
            "ts": float(fields["ts"]),
            "seq": seq,
        }

    def _index(self, rows: list[tuple[int, str, str, dict[str, Any]]]) -> None:
        searchable = [row for row in rows if row[2].strip()]
        if searchable:
            texts = [text for _, _, text, _ in searchable]
            chunks = []
            for start in range(0, len(texts), EMBED_CHUNK):
                with self._searches_changed:
                    self._searches_changed.wait_for(lambda: self._searches == 0, timeout=SEARCH_FIRST_S)
                chunks.append(self.embedder.embed(texts[start : start + EMBED_CHUNK]))
            if len(chunks) > 1:
                import numpy as np  # loaded by the embedder already; not at start-up

                chunks = [np.concatenate(chunks)]
            # One upsert per batch: chromadb's cost per call is what kept the insert rate.
            self.vectors.upsert(
                [entry_id for _, entry_id, _, _ in searchable],
                chunks[0],
                texts,
                [meta for *_, meta in searchable],
            )
        self.store.mark_indexed([seq for seq, *_ in rows])

    def _index_backlog(self, limit: int | None = None) -> int:
        """Embed logged messages that are not searchable yet (at most ``limit``); returns how many."""
        done = 0
        while limit is None or done < limit:
            rows = self.store.unindexed(BATCH * 4 if limit is None else min(BATCH * 4, limit - done))
            if not rows:
                self._backlog = False
                break
            self._index([(row["seq"], row["id"], row["text"], self._metadata(row["seq"], dict(row))) for row in rows])
            done += len(rows)
        return done

    def flush(self) -> None:
        """Wait until every queued message is stored and searchable. Re-raises a bug hit by the worker."""
        if self._worker is not None and self._worker.is_alive():
            self._queue.join()
        if self._bug is not None:
            bug, self._bug = self._bug, None
            raise bug

    def close(self) -> None:
        """Flush, stop the worker and close the database."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if self._worker is not None:
                self._queue.put(_STOP)
                self._worker.join()
                atexit.unregister(self.close)
            if self.store is not None:
                self.store.close()
                make_private(self.root)  # chromadb may have added files with its own modes

    def _need_store(self) -> Any:
        if self.store is None:
            raise NanofolksError(self.unavailable or "memory is not available")
        return self.store

    def _need_vectors(self) -> Any:
        if self.vectors is None:
            raise NanofolksError(self.search_unavailable or "memory search is not available")
        return self.vectors

    # -- reading ----------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 10, room: str | None = None) -> list[MemoryHit]:
        """What memory holds about ``query``, best first: messages (hybrid ranking, see
        :mod:`~nanofolks_memory_chroma.retrieval`), then, unless ``room`` narrows the search, the
        facts, entities and preferences it names (``kind`` says which; at most a third of ``limit``,
        in place of the weakest messages). ``score`` is 0..1. While the index is re-embedded after
        a model change, keyword and entity ranking still cover every message.
        """
        query = clean_text(query)
        if not query.strip() or limit <= 0:
            return []
        self._need_store()
        self._need_vectors()  # the index is off (server down, damaged): say so rather than half an answer
        learned = [] if room is not None or limit < 3 else knowledge_hits(self.store, query, limit // 3)
        messages = [
            MemoryHit(id=entry.id, text=entry.text, room=entry.room, ts=entry.ts, score=entry.score, kind="message")
            for entry in self.rank(query, limit=limit, room=room)
        ]
        # Learned items follow the messages, in place of the weakest ones (at most a third of the list).
        return messages[: limit - len(learned)] + learned

    def rank(self, query: str, *, limit: int, room: str | None = None, exclude: Any = (), **options: Any) -> list[Any]:
        """Messages ranked by the hybrid retrieval (``options``: signals, time_aware, weights; for benches)."""
        store = self._need_store()
        dense = self.vectors is not None
        with self._searches_changed:
            self._searches += 1
        try:
            return rank(
                store,
                query,
                limit=limit,
                room=room,
                exclude=exclude,
                vectors=self.vectors if dense else None,
                embed=self.embedder.embed if dense else None,
                **options,
            )
        finally:
            with self._searches_changed:
                self._searches -= 1
                self._searches_changed.notify_all()

    async def context(self, query: str, *, room: str, bot: str, budget_tokens: int) -> str:
        """What the crew remembers that is relevant to ``query``, as a prompt section within the budget."""
        return await asyncio.to_thread(self.context_sync, query, room=room, bot=bot, budget_tokens=budget_tokens)

    def context_sync(self, query: str, *, room: str, bot: str, budget_tokens: int) -> str:
        """The blocking body of :meth:`context` (for callers without an event loop)."""
        if budget_tokens <= 0 or self.store is None:
            return ""  # memory off for this run: said once at start, not again on every message
        store = self.store
        query = clean_text(query)
        hits = []
        if query.strip():
            # The room's recent messages are in the prompt already. A memory goes in when its
            # meaning is close enough (minScore), it names an entity the message names, or it shares
            # enough words: fused rank alone would let a vaguely related line in when nothing fits.
            recent = store.recent_ids(room, self.config.recent_room_messages)
            terms = query_terms(query)
            hits = [
                entry
                for entry in self.rank(query, limit=CONTEXT_MEMORIES * 2, exclude=recent)
                if (entry.similarity or 0.0) >= self.config.min_score
                or ENTITY in entry.signals
                or (KEYWORD in entry.signals and shares_words(terms, entry.text))
            ][:CONTEXT_MEMORIES]
        entities = store.entities_for([hit.id for hit in hits], query, limit=6)
        return build_context(
            hits=hits,
            preferences=store.preferences(),
            user_facts=store.user_facts(),
            entities=entities,
            relations=store.relations_of([row["id"] for row in entities]),
            room=room,
            budget_tokens=budget_tokens,
        )

    # -- forgetting -------------------------------------------------------------------------

    def forget(self, *, entry_id: str | None = None, room: str | None = None) -> int:
        """Delete one entry (a message id, ``entity:N`` or ``pref:N``) or a whole room; returns how many went."""
        if (entry_id is None) == (room is None):
            raise UsageError("forget needs exactly one of: an entry id, or a room")
        self._need_store()
        self._need_vectors()  # forgetting in one store only would let the other bring it back
        self.flush()  # so a queued message of that room cannot come back after the delete
        if room is not None:
            ids = self.store.forget_room(room)
            self.vectors.delete(ids)
            if not self.vectors.remote:
                self.vectors.delete_room(room)  # also vectors of messages a damaged, replaced log lost
            return len(ids)
        by_prefix = (
            (ENTITY_PREFIX, self.store.forget_entity),
            (PREFERENCE_PREFIX, self.store.forget_preference),
            (FACT_PREFIX, self.store.forget_fact),
        )
        for prefix, method in by_prefix:
            if entry_id.startswith(prefix):
                number = entry_id[len(prefix) :]
                if not number.isdigit():
                    raise UsageError(f"{entry_id!r} is not a memory id: expected {prefix}<number>")
                return method(int(number))
        count = self.store.forget_message(entry_id)
        self.vectors.delete([entry_id])
        return count

    def describe(self, entry_id: str) -> str | None:
        """A one-line description of an entry (for confirmations), None if there is no such entry."""
        self._need_store()
        if entry_id.startswith(PREFERENCE_PREFIX):
            rows = [row for row in self.store.preferences() if f"{PREFERENCE_PREFIX}{row['id']}" == entry_id]
            return f"preference: {rows[0]['statement']}" if rows else None
        if entry_id.startswith(FACT_PREFIX):
            number = entry_id[len(FACT_PREFIX) :]
            row = self.store.fact(int(number)) if number.isdigit() else None
            return f"fact: {fact_text(row)}" if row else None
        if entry_id.startswith(ENTITY_PREFIX):
            rows = [row for row in self.store.entity_list(10**9) if f"{ENTITY_PREFIX}{row['id']}" == entry_id]
            return f"{rows[0]['kind']}: {rows[0]['name']}" if rows else None
        row = self.store.message(entry_id)
        return f"message in room {row['room']}: {row['text'][:80]}" if row else None

    def room_count(self, room: str) -> int:
        return self._need_store().room_message_count(room)

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Counts, sizes and where things live, for ``nanofolks memory status``.

        ``unavailable`` / ``search_unavailable`` say why a part is off this run; ``repairs`` lists
        the latest damaged files moved aside and what was done about them.
        """
        counts = dict.fromkeys(("messages", "unindexed", "entities", "relations", "preferences", "rooms"), 0)
        if self.store is not None:
            counts = self.store.counts()
        vector_count: int | None = None
        if self.vectors is not None:
            try:
                vector_count = self.vectors.count()
            except VectorStoreError as exc:  # a server that went away must not hide the rest of the status
                self.last_error = str(exc)
        database = self.root / "memory.db"
        remote = bool(self.config.host)
        location = f"server {self._vector_args_location()}" if remote else f"embedded {self.root / 'chroma'}"
        return {
            "backend": self.name,
            **counts,
            "vectors": vector_count,
            "queued": self._queue.qsize(),
            "embedding_model": self.embedder.name,
            "vector_store": location,
            "collection": self._vector_args["name"],
            "database": str(database),
            "size_bytes": {
                "database": sum(_size(path) for path in sqlite_files(database)),
                "vectors": 0 if remote else _size(self.root / "chroma"),
            },
            "last_error": self.last_error,
            "unavailable": self.unavailable,
            "search_unavailable": self.search_unavailable,
            "repairs": self.repairs.entries(),
        }

    def _vector_args_location(self) -> str:
        return f"{'https' if self.config.ssl else 'http'}://{self.config.host}:{self.config.port}"

    def doctor(self, repair: bool = False) -> list[Any]:
        """Health checks of memory.db and the search index (``nanofolks doctor``, ``memory doctor``).

        With ``repair``: a damaged log is moved aside and rebuilt from the index, a damaged index
        is moved aside and rebuilt from the log (re-embedding), missing vectors are re-embedded.
        """
        from nanofolks_memory_chroma.health import run_checks

        self.flush()
        return run_checks(self, repair)

    def preferences(self) -> list[dict[str, Any]]:
        """Learned preferences (current value of each), with ids usable by :meth:`forget`."""
        return [
            {
                "id": f"{PREFERENCE_PREFIX}{row['id']}",
                "statement": row["statement"],
                "times": row["times"],
                "ts": row["ts"],
            }
            for row in self._need_store().preferences(with_counts=True)
        ]

    def entities(self, limit: int = 20) -> list[dict[str, Any]]:
        """The most mentioned entities, with ids usable by :meth:`forget`."""
        return [
            {"id": f"{ENTITY_PREFIX}{row['id']}", "name": row["name"], "kind": row["kind"], "mentions": row["mentions"]}
            for row in self._need_store().entity_list(limit)
        ]
