"""Recall cannot silently regress: hybrid ranking vs keyword-only and dense-only on a labelled conversation.

A small slice of the set ``tests/bench/bench_recall.py`` measures in full (one user's
conversation over several dated sessions), recorded through ``record()`` with the real model,
SQLite FTS5 and chromadb. The floors sit a few points under what the hybrid ranking scores
today, so a change that loses recall fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.api import MemoryEvent

HERE = Path(__file__).resolve().parent
HYBRID_FLOOR_AT_10 = 0.80


def _conversations():
    spec = importlib.util.spec_from_file_location("recall_conversations", HERE / "recall_conversations.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    [conversation] = _conversations().conversations(count=1, sessions=6, seed=99)
    memory = ChromaMemory(data_root=tmp_path_factory.mktemp("recall"))
    for turn in conversation.turns:
        memory.record(
            MemoryEvent(
                id=turn.id,
                room="chat",
                role=turn.role,
                text=turn.text,
                ts=turn.ts,
                bot=None if turn.role == "user" else "leader",
            )
        )
    memory.flush()
    yield conversation, memory
    memory.close()


def recall_at(memory, questions, k, **options) -> float:
    total = 0.0
    for question in questions:
        found = {entry.id for entry in memory.rank(question.text, limit=k, **options)}
        total += len(found & set(question.evidence)) / len(question.evidence)
    return total / len(questions)


def test_hybrid_recall_at_10_beats_keyword_only_and_dense_only_and_stays_above_its_floor(recorded):
    conversation, memory = recorded
    questions = list(conversation.questions)
    assert len(questions) > 30 and len(conversation.turns) > 200
    hybrid = recall_at(memory, questions, 10)
    keyword = recall_at(memory, questions, 10, signals=("keyword",), time_aware=False)
    dense = recall_at(memory, questions, 10, signals=("dense",), time_aware=False)
    print(f"recall@10 on {len(questions)} questions: hybrid {hybrid:.3f}, keyword {keyword:.3f}, dense {dense:.3f}")
    assert hybrid >= keyword and hybrid >= dense, (hybrid, keyword, dense)
    assert hybrid >= HYBRID_FLOOR_AT_10, (hybrid, keyword, dense)


def test_search_finds_the_dated_turn_for_a_when_question_and_carries_its_date(recorded):
    conversation, memory = recorded
    question = next(q for q in conversation.questions if q.kind == "temporal" and "go to" in q.text)
    [evidence] = question.evidence
    turn = next(t for t in conversation.turns if t.id == evidence)
    hits = [hit for hit in memory.search(question.text, limit=5) if hit.kind == "message"]
    assert evidence in [hit.id for hit in hits[:3]], (question.text, [hit.text for hit in hits])
    assert next(hit for hit in hits if hit.id == evidence).ts == pytest.approx(turn.ts)
