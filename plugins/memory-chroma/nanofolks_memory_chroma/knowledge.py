"""What ``memory search`` finds besides messages: facts, entities and preferences, each labelled.

Learned knowledge is short and already distilled, so it is matched by words, not vectors: an
entity the query names, the facts about it ("Anna lives in Berlin"), and facts about the user
or preferences whose words share a stem with the query's ("where do I live" finds "the user
lives in Lisbon"). Scores are the share of the query's content words the item covers (an
entity named outright scores 1), on the same 0..1 scale as the fused message score.
"""

from __future__ import annotations

import re
from typing import Any

from nanofolks_core.api import MemoryHit
from nanofolks_memory_chroma import lexical
from nanofolks_memory_chroma.retrieval import matched_entities
from nanofolks_memory_chroma.store import ENTITY_PREFIX, FACT_PREFIX, PREFERENCE_PREFIX

_STEM = 4  # words sharing their first letters ("lives"/"live", "travelled"/"travel") match


def _stems(text: str) -> set[str]:
    return {word[:_STEM] for word in lexical.query_terms(text) if len(word) >= 3}


def _coverage(query_stems: set[str], text: str) -> float:
    return len(query_stems & _stems(text)) / len(query_stems) if query_stems else 0.0


def fact_text(row: dict[str, Any]) -> str:
    return f"{row['subject'] or 'the user'} {row['predicate']} {row['object']}"


def knowledge_hits(store: Any, query: str, limit: int) -> list[MemoryHit]:
    """Up to ``limit`` facts, entities and preferences matching ``query``, best first."""
    if limit <= 0:
        return []
    wanted = _stems(query)
    hits: dict[str, MemoryHit] = {}

    def add(hit: MemoryHit) -> None:
        if hit.score > 0 and (hit.id not in hits or hits[hit.id].score < hit.score):
            hits[hit.id] = hit

    entities = matched_entities(store, query)
    facts = store.relations_of([row["id"] for row in entities])
    for row in entities:
        add(
            MemoryHit(
                id=f"{ENTITY_PREFIX}{row['id']}",
                text=f"{row['name']} ({row['kind']})",
                room=None,
                ts=float(row["last_ts"]),
                score=1.0,
                kind="entity",
            )
        )
    for row in [*facts, *store.user_facts()]:
        if row["predicate"] == "mentioned with":
            continue
        text = fact_text(row)
        named = any(row[side] and row[side].lower() in query.lower() for side in ("subject", "object"))
        score = max(_coverage(wanted, text), 0.5 if named else 0.0)
        add(
            MemoryHit(
                id=f"{FACT_PREFIX}{row['id']}", text=text, room=None, ts=float(row["ts"]), score=score, kind="fact"
            )
        )
    for row in store.preferences():
        text = row["statement"]
        score = _coverage(wanted, f"{text} {re.sub(r'[:_]', ' ', row['key'])}")
        add(
            MemoryHit(
                id=f"{PREFERENCE_PREFIX}{row['id']}",
                text=text,
                room=None,
                ts=float(row["ts"]),
                score=score,
                kind="preference",
            )
        )
    return sorted(hits.values(), key=lambda hit: -hit.score)[:limit]
