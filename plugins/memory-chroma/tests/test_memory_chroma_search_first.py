"""A turn's memory search does not wait for the previous turn's indexing: the worker lets it embed first."""

from __future__ import annotations

import threading
import time

from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.api import MemoryEvent


def test_the_background_worker_waits_for_a_running_search_before_embedding(tmp_path):
    memory = ChromaMemory(data_root=tmp_path)
    try:
        memory.record(MemoryEvent(id="m0", room="r", role="user", text="My dog Rex loves the beach."))
        memory.flush()
        calls: list[tuple[str, str]] = []
        embed = memory.embedder.embed

        def watched(texts):
            worker = threading.current_thread().name == "nanofolks-memory"
            calls.append(("start", "worker" if worker else "search"))
            if not worker:
                # The next turn's messages arrive while this search is embedding its question.
                memory.record(MemoryEvent(id="m1", room="r", role="assistant", bot="leader", text="Rex sounds fun!"))
                time.sleep(0.3)
            vectors = embed(texts)
            calls.append(("end", "worker" if worker else "search"))
            return vectors

        memory.embedder.embed = watched
        assert [entry.id for entry in memory.rank("Where does Rex like to go?", limit=1)] == ["m0"]
        memory.flush()
        assert calls == [("start", "search"), ("end", "search"), ("start", "worker"), ("end", "worker")]
        assert memory.status()["vectors"] == 2  # and the message was indexed once the search was done
    finally:
        memory.close()
