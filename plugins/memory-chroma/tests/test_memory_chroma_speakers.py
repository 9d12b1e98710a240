"""Two named people talking: who said it counts, though the name is never in what they said."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path

from nanofolks_memory_chroma import lexical
from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.api import MemoryEvent

DIALOG_FLOOR_AT_10 = 0.75  # 0.789 today; 0.722 before speakers were indexed
TURNS = [
    ("Joel", "I'd love to go to a jazz concert some day, never found the time."),
    ("Maya", "Work has been a lot lately, I barely cook."),
    ("Joel", "Same here. The weather is awful too."),
    ("Maya", "Yesterday I went to a jazz concert at the Blue Note!"),
    ("Joel", "Oh wow, how was it?"),
    ("Maya", "Loved every minute of it."),
    ("Joel", "My neighbour's dog barks all night."),
]


def talk(memory: ChromaMemory) -> None:
    for index, (speaker, text) in enumerate(TURNS):
        memory.record(
            MemoryEvent(
                id=f"t{index}",
                room="friends",
                role="user" if speaker == "Maya" else "assistant",
                bot=speaker,
                text=text,
                ts=1_700_000_000 + index,
            )
        )
    memory.flush()


def test_a_question_naming_the_speaker_finds_what_they_said_ahead_of_the_other_persons_same_words(tmp_path):
    memory = ChromaMemory(data_root=tmp_path)
    try:
        talk(memory)
        assert lexical.speakers_named(memory.store, "When did Maya go to the jazz concert?") == {"Maya"}
        assert lexical.speakers_named(memory.store, "When did Priya go to the jazz concert?") == set()
        for signals in (("keyword",), ("dense", "keyword", "entity")):
            found = [
                entry.id for entry in memory.rank("When did Maya go to the jazz concert?", limit=3, signals=signals)
            ]
            assert found[0] == "t3", (signals, found)
        found = [entry.id for entry in memory.rank("Joel jazz concert", limit=3, signals=("keyword",))]
        assert found[0] == "t0", found
    finally:
        memory.close()


def test_a_keyword_index_from_before_the_speaker_column_is_rebuilt_with_it_on_open(tmp_path):
    memory = ChromaMemory(data_root=tmp_path)
    talk(memory)
    memory.close()
    with sqlite3.connect(tmp_path / "memory" / "memory.db") as db:  # as the previous version left it
        db.executescript(
            "DROP TRIGGER messages_fts_insert; DROP TRIGGER messages_fts_delete; DROP TABLE messages_fts;"
            "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='seq');"
            "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');"
        )
    memory = ChromaMemory(data_root=tmp_path)
    try:
        assert lexical.speakers_named(memory.store, "What did Maya do yesterday?") == {"Maya"}
        found = [entry.id for entry in memory.rank("Maya jazz concert", limit=2, signals=("keyword",))]
        assert found[0] == "t3"
        memory.record(MemoryEvent(id="t9", room="friends", role="user", bot="Maya", text="Bought a trumpet today."))
        memory.flush()
        assert [entry.id for entry in memory.rank("trumpet", limit=1, signals=("keyword",))] == ["t9"]
    finally:
        memory.close()


def _dialogs():
    spec = importlib.util.spec_from_file_location("recall_dialogs", Path(__file__).with_name("recall_dialogs.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_on_two_people_talking_hybrid_recall_at_10_beats_keyword_only_and_dense_only(tmp_path):
    """A slice of the harder set in tests/bench/bench_recall.py (names only in the speaker field)."""
    [dialog] = _dialogs().dialogs(count=1, sessions=8, seed=99)
    memory = ChromaMemory(data_root=tmp_path)
    try:
        for turn in dialog.turns:
            memory.record(
                MemoryEvent(id=turn.id, room="chat", role=turn.role, bot=turn.speaker, text=turn.text, ts=turn.ts)
            )
        memory.flush()

        def recall_at_10(**options) -> float:
            total = 0.0
            for question in dialog.questions:
                found = {entry.id for entry in memory.rank(question.text, limit=10, **options)}
                total += len(found & set(question.evidence)) / len(question.evidence)
            return total / len(dialog.questions)

        hybrid = recall_at_10()
        keyword = recall_at_10(signals=("keyword",), time_aware=False)
        dense = recall_at_10(signals=("dense",), time_aware=False)
        print(
            f"recall@10 on {len(dialog.questions)} questions: "
            f"hybrid {hybrid:.3f}, keyword {keyword:.3f}, dense {dense:.3f}"
        )
        assert hybrid >= keyword and hybrid >= dense, (hybrid, keyword, dense)
        assert hybrid >= DIALOG_FLOOR_AT_10, (hybrid, keyword, dense)
    finally:
        memory.close()


def test_people_in_a_group_chat_are_speakers_through_the_events_sender(tmp_path):
    """The pipeline passes who wrote a user message as ``sender`` (a chat app's display name)."""
    memory = ChromaMemory(data_root=tmp_path)
    try:
        for index, (speaker, text) in enumerate(TURNS):
            memory.record(
                MemoryEvent(
                    id=f"g{index}", room="group", role="user", sender=speaker, text=text, ts=1_700_000_000 + index
                )
            )
        memory.flush()
        found = [entry.id for entry in memory.rank("When did Maya go to the jazz concert?", limit=3)]
        assert found[0] == "g3", found
        context = memory.context_sync("Maya jazz concert", room="other", bot="leader", budget_tokens=400)
        assert "Maya said: Yesterday I went to a jazz concert" in context
    finally:
        memory.close()
