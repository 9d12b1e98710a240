"""ChromaMemory end to end: real SQLite and chromadb files in a temp dir, the real local model."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import time

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory
from nanofolks_memory_chroma.config import ChromaMemoryConfig
from nanofolks_memory_chroma.context import estimate_tokens

from nanofolks_core.api import MemoryBackend, MemoryEvent, NanofolksError, UsageError

_ids = itertools.count()
DISTRACTORS = [
    "The quarterly tax report is due on Friday.",
    "Can you fix the failing unit test in the parser?",
    "Remind me to buy milk and eggs.",
    "The server crashed again last night after the deploy.",
    "Let's schedule the design review for Tuesday morning.",
]


def event(text: str, room: str = "general", role: str = "user", **fields) -> MemoryEvent:
    return MemoryEvent(
        id=fields.pop("id", f"e{next(_ids)}"),
        room=room,
        role=role,
        text=text,
        bot=None if role == "user" else "leader",
        channel="cli",
        **fields,
    )


@pytest.fixture
def memory(tmp_path):
    backend = ChromaMemory(data_root=tmp_path)
    yield backend
    backend.close()


def remember(memory: ChromaMemory, *events: MemoryEvent) -> None:
    for item in events:
        memory.record(item)
    memory.flush()


def context(memory: ChromaMemory, query: str, room: str, budget: int = 600) -> str:
    return asyncio.run(memory.context(query, room=room, bot="leader", budget_tokens=budget))


def test_implements_the_core_memory_contract(memory):
    assert isinstance(memory, MemoryBackend)


def test_searching_pet_finds_the_dog_memory_first(memory):
    remember(
        memory,
        *(event(text) for text in DISTRACTORS[:3]),
        event("My dog Rex loves the beach", room="home"),
        *(event(text) for text in DISTRACTORS[3:]),
    )
    hits = memory.search("pet", limit=3)
    messages = [hit for hit in hits if hit.kind == "message"]
    assert messages[0].text == "My dog Rex loves the beach"
    assert messages[0].room == "home"
    assert messages[0].score > messages[1].score
    # What was learned from it is found too, labelled.
    assert [(hit.kind, hit.text) for hit in hits if hit.kind != "message"] == [("fact", "the user has a pet Rex")]
    in_general = memory.search("pet", room="general")
    assert {hit.kind for hit in in_general} == {"message"}
    assert in_general[0].text != "My dog Rex loves the beach"


def test_record_returns_at_once_and_flush_makes_everything_searchable(memory):
    events = [event(f"Note {i}: the meeting about project {i} moved to next week") for i in range(150)]
    started = time.perf_counter()
    for item in events:
        memory.record(item)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.15, f"record() took {elapsed * 1000:.0f} ms for 150 messages: it must only queue"
    memory.flush()
    status = memory.status()
    assert status["messages"] == 150 and status["vectors"] == 150 and status["queued"] == 0


def test_the_same_message_recorded_twice_is_stored_once(memory):
    remember(memory, event("I live in Lisbon", id="dup"), event("I live in Lisbon", id="dup"))
    assert memory.status()["messages"] == 1 and memory.status()["vectors"] == 1


def test_context_brings_facts_from_other_rooms_but_not_this_rooms_recent_history(tmp_path):
    memory = ChromaMemory(config=ChromaMemoryConfig(recent_room_messages=3), data_root=tmp_path)
    try:
        remember(
            memory,
            event("My dog Rex loves the beach", room="home"),
            event("Rex the dog needs his vaccination next month", room="work"),  # old: outside the window
            event("The quarterly tax report is due on Friday.", room="work"),
            event("My puppy chewed my shoes today", room="work"),  # recent: already in the prompt
            event("Should I take my pet to the vet?", room="work"),
        )
        text = context(memory, "Should I take my pet to the vet?", room="work")
    finally:
        memory.close()
    assert text.startswith("## What the crew remembers")
    assert "My dog Rex loves the beach" in text and "room home" in text
    assert "needs his vaccination" in text  # older messages of the same room may come back
    assert "chewed my shoes" not in text and "take my pet to the vet" not in text
    assert "tax report" not in text  # below minScore: irrelevant memories stay out


def test_context_stays_within_the_token_budget(memory):
    remember(
        memory,
        *(event(f"My dog Rex went to beach number {i} with my sister Anna in Lisbon", room="home") for i in range(30)),
        event("call me Sam, and shorter please"),
    )
    for budget in (40, 120, 400):
        text = context(memory, "where does my dog like to go?", room="chat", budget=budget)
        assert text and estimate_tokens(text) <= budget
    assert "Call the user Sam." in context(memory, "hello", room="chat", budget=40)  # preferences come first
    assert context(memory, "where does my dog like to go?", room="chat", budget=0) == ""


def test_context_is_quick(memory):
    remember(memory, *(event(f"{text} ({i})") for i in range(20) for text in DISTRACTORS))
    context(memory, "warm up", room="x")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        context(memory, "what was due on Friday?", room="x")
        timings.append(time.perf_counter() - started)
    # The median resists a scheduling hiccup on a busy machine; typical is ~10-20 ms.
    assert sorted(timings)[2] < 0.5, timings


def test_preferences_and_entities_are_learned_locally_and_latest_preference_wins(memory):
    remember(
        memory,
        event("shorter please"),
        event("call me Sam"),
        event("I prefer Python over Java for scripting", room="code"),
        event("My sister Anna lives in Berlin and works at Google.", room="family"),
        event("Sure, Berlin sounds lovely.", room="family", role="assistant"),
    )
    statements = [pref["statement"] for pref in memory.preferences()]
    assert set(statements) == {"Keep answers short and concise.", "Call the user Sam.", "Prefers Python over Java."}
    found = {entity["name"]: (entity["kind"], entity["mentions"]) for entity in memory.entities()}
    assert found["Anna"] == ("person", 1) and found["Berlin"] == ("place", 2)
    assert found["Google"][0] == "organization" and found["Python"][0] == "concept"
    text = context(memory, "Any plans to visit Anna?", room="chat")
    assert "The user has a sister Anna." in text and "Anna lives in Berlin" in text
    remember(memory, event("actually give me more detail from now on"))
    statements = [pref["statement"] for pref in memory.preferences()]
    assert "Give detailed, thorough answers." in statements and "Keep answers short and concise." not in statements


def test_forget_one_message_or_a_whole_room_with_what_was_learned(memory):
    remember(
        memory,
        event("My dog Rex loves the beach", room="home", id="dog"),
        event("call me Sam", room="home"),
        event("My sister Anna lives in Berlin", room="family"),
        event("The tax report is due", room="work"),
    )
    assert memory.forget(entry_id="dog") == 1
    assert all(hit.id != "dog" for hit in memory.search("pet"))
    assert "Rex" not in {entity["name"] for entity in memory.entities()}
    assert memory.forget(room="home") == 1
    assert memory.preferences() == []  # "call me Sam" was said in that room
    assert memory.forget(room="home") == 0
    pref_id = None
    remember(memory, event("no emojis please", room="work"))
    pref_id = memory.preferences()[0]["id"]
    assert memory.forget(entry_id=pref_id) == 1 and memory.preferences() == []
    anna = next(e["id"] for e in memory.entities() if e["name"] == "Anna")
    assert memory.forget(entry_id=anna) == 1 and "Anna" not in {e["name"] for e in memory.entities()}
    status = memory.status()
    assert status["messages"] == 3 and status["vectors"] == 3
    with pytest.raises(UsageError):
        memory.forget()


def test_status_counts_and_sizes(memory, tmp_path):
    remember(
        memory,
        event("My sister Anna lives in Berlin", room="a"),
        event("I prefer tea", room="b"),
        event("Noted!", room="b", role="assistant"),
    )
    status = memory.status()
    assert status["backend"] == "chroma" and status["embedding_model"] == "all-MiniLM-L6-v2"
    assert (status["messages"], status["rooms"], status["vectors"], status["unindexed"]) == (3, 2, 3, 0)
    assert (status["entities"], status["preferences"]) == (2, 1)
    assert status["relations"] >= 2
    assert status["size_bytes"]["database"] > 0 and status["size_bytes"]["vectors"] > 0
    assert status["vector_store"] == f"embedded {tmp_path / 'memory' / 'chroma'}"
    with sqlite3.connect(tmp_path / "memory" / "memory.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = db.execute("SELECT room, role, bot, channel, ts FROM messages WHERE text = 'Noted!'").fetchone()
    assert row[:4] == ("b", "assistant", "leader", "cli") and abs(row[4] - time.time()) < 60


def test_memory_survives_a_restart(tmp_path):
    first = ChromaMemory(data_root=tmp_path)
    remember(first, event("My dog Rex loves the beach", room="home"), event("The tax report is due"))
    first.close()
    second = ChromaMemory(data_root=tmp_path)
    try:
        assert second.search("pet")[0].text == "My dog Rex loves the beach"
        assert second.status()["messages"] == 2
    finally:
        second.close()


def test_blank_messages_are_logged_but_not_indexed_and_closed_memory_refuses_records(tmp_path):
    memory = ChromaMemory(data_root=tmp_path)
    remember(memory, event("   "), event("Ünïcödé with emoji 🐕 works too"))
    status = memory.status()
    assert (status["messages"], status["vectors"], status["unindexed"]) == (2, 1, 0)
    assert memory.search("🐕 emoji")[0].text == "Ünïcödé with emoji 🐕 works too"
    memory.close()
    memory.close()  # closing twice is harmless
    with pytest.raises(NanofolksError, match="memory is closed"):
        memory.record(event("too late"))
