"""Hybrid retrieval as a user meets it: keyword + meaning + entities + time, labelled knowledge, re-embedding."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime
from importlib.util import find_spec

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory
from nanofolks_memory_chroma.config import ChromaMemoryConfig

from nanofolks_core.api import MemoryEvent
from nanofolks_core.testing.llm_server import FakeLLMServer

CHATTER = [
    "Can you help me write an email to my landlord about the heating?",
    "What's a good recipe for banana bread?",
    "I'm so tired today, work was a lot.",
    "Tell me a fun fact about octopuses.",
    "How do I get red wine out of a carpet?",
    "Weather looks rainy all week.",
]


def ts(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def remember(memory: ChromaMemory, *texts: str, room: str = "general", when: float | None = None) -> None:
    for index, text in enumerate(texts):
        fields = {"ts": when + index} if when is not None else {}
        memory.record(
            MemoryEvent(id=f"{room}-{memory.status()['messages']}-{index}", room=room, role="user", text=text, **fields)
        )
    memory.flush()


@pytest.fixture
def memory(tmp_path):
    backend = ChromaMemory(data_root=tmp_path)
    yield backend
    backend.close()


def test_a_rare_name_is_found_by_its_words_even_where_meaning_alone_misses_it(memory):
    remember(memory, *CHATTER, "Priya said Casa Amarela on Harbour Lane has amazing dumplings.", *CHATTER)
    dense_only = [entry.text for entry in memory.rank("Harbour Lane", limit=3, signals=("dense",))]
    hits = [hit for hit in memory.search("Harbour Lane", limit=3) if hit.kind == "message"]
    assert hits[0].text.startswith("Priya said Casa Amarela"), (hits, dense_only)


def test_when_questions_favour_the_turn_that_carries_a_date(memory):
    remember(
        memory,
        "I'd love to go to a jazz festival in Porto someday.",
        "The jazz festival in Porto has a great lineup, says Marta.",
        "Just got back from the jazz festival in Porto yesterday, it was amazing.",
        *CHATTER,
        when=ts("2025-03-14T18:00:00"),
    )
    hits = memory.search("When did I go to the jazz festival?", limit=3)
    assert hits[0].text.startswith("Just got back"), [hit.text for hit in hits]
    assert datetime.fromtimestamp(hits[0].ts, UTC).date().isoformat() == "2025-03-14"


def test_search_lists_facts_entities_and_preferences_labelled_after_the_messages(memory):
    remember(
        memory,
        "My sister Anna lives in Berlin and works at Google.",
        "I prefer Python over Java for scripting",
        "call me Sam",
        *CHATTER,
    )
    hits = memory.search("Anna Berlin", limit=9)
    kinds = [hit.kind for hit in hits]
    assert kinds[0] == "message" and hits[0].text.startswith("My sister Anna")
    assert {"entity", "fact"} <= set(kinds) and kinds.index("entity") > kinds.index("message")
    assert any(hit.kind == "fact" and hit.text == "Anna lives in Berlin" for hit in hits)
    assert all(0.0 <= hit.score <= 1.0 for hit in hits)
    preference = [
        hit for hit in memory.search("which language do I prefer, Python?", limit=9) if hit.kind == "preference"
    ]
    assert preference and preference[0].text == "Prefers Python over Java." and preference[0].id.startswith("pref:")
    fact = next(hit for hit in hits if hit.text == "Anna lives in Berlin")
    assert memory.describe(fact.id) == "fact: Anna lives in Berlin"
    assert memory.forget(entry_id=fact.id) == 1
    assert all(hit.text != "Anna lives in Berlin" for hit in memory.search("Anna Berlin", limit=9))
    assert memory.search("Anna Berlin", room="general", limit=9)[0].kind == "message"
    assert {hit.kind for hit in memory.search("Anna Berlin", room="general", limit=9)} == {"message"}


def test_context_uses_the_hybrid_ranking_and_dates_each_memory(memory):
    remember(
        memory, "Priya recommended Casa Amarela on Harbour Lane.", *CHATTER, room="food", when=ts("2025-02-03T12:00:00")
    )
    text = asyncio.run(
        memory.context("Is the place on Harbour Lane any good?", room="other", bot="leader", budget_tokens=400)
    )
    assert "- 2025-02-03, room food, the user said: Priya recommended Casa Amarela on Harbour Lane." in text
    assert "banana bread" not in text  # no shared words, not close in meaning: stays out


def test_a_log_from_before_the_keyword_index_is_indexed_on_open(tmp_path):
    memory = ChromaMemory(data_root=tmp_path)
    remember(memory, "Priya recommended Casa Amarela on Harbour Lane.", *CHATTER)
    memory.close()
    with sqlite3.connect(tmp_path / "memory" / "memory.db") as db:  # as an older version left it
        db.executescript(
            "DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_delete; "
            "DROP TABLE messages_fts; DELETE FROM meta;"
        )
    memory = ChromaMemory(data_root=tmp_path)
    try:
        found = [entry.text for entry in memory.rank("Harbour Lane", limit=2, signals=("keyword",))]
        assert memory.status()["unindexed"] == 0  # same model, vectors kept: nothing re-embedded
    finally:
        memory.close()
    assert found == ["Priya recommended Casa Amarela on Harbour Lane."]


@pytest.mark.skipif(find_spec("litellm") is None, reason="the api-embeddings extra is not installed")
def test_a_new_embedding_model_re_embeds_the_log_with_one_warning_and_never_mixes_vectors(tmp_path, caplog):
    local = ChromaMemory(data_root=tmp_path)
    remember(local, "My dog Rex loves the beach", *CHATTER)
    local.close()
    with FakeLLMServer(embedding_dim=16) as server:
        config = ChromaMemoryConfig(
            embedding={"model": "openai/text-embedding-3-small", "apiBase": server.base_url, "apiKey": "sk-x"}
        )
        with caplog.at_level(logging.WARNING):
            api = ChromaMemory(config=config, data_root=tmp_path)
        try:
            warnings = [r.getMessage() for r in caplog.records if "embedding model changed" in r.getMessage()]
            assert len(warnings) == 1 and "all-MiniLM-L6-v2 -> openai/text-embedding-3-small" in warnings[0]
            assert api.status()["unindexed"] == 7
            # Until re-embedded, keywords still find everything.
            assert api.search("Rex beach", limit=1)[0].text == "My dog Rex loves the beach"
            [check] = [c for c in api.doctor(repair=True) if "index" in c.name]
            assert check.ok and api.status()["unindexed"] == 0 and api.status()["vectors"] == 7
            dense = api.rank("My dog Rex loves the beach", limit=1, signals=("dense",))[0]
            assert dense.similarity == pytest.approx(1.0, abs=1e-4)  # the API model's own vector
        finally:
            api.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = ChromaMemory(config=config, data_root=tmp_path)
        again.close()
    assert not [r for r in caplog.records if "embedding model changed" in r.getMessage()]
