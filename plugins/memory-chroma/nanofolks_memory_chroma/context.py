"""Assembling the prompt section: what the crew remembers, within a token budget.

Tokens are estimated as characters / 4. Parts go in by priority: the user's preferences
and facts about the user (short, always useful), then the memories most similar to the
message, then the entities involved and how they relate. A line that does not fit is
skipped; a section whose lines all miss is left out entirely.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

HEADER = "## What the crew remembers"
MAX_MEMORY_CHARS = 300


def estimate_tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))


def _memory_line(hit: Any, room: str) -> str:
    meta = hit.metadata
    if meta.get("role") == "user":
        speaker = meta.get("bot") or "the user"  # a chat app's sender name, when it gave one
    else:
        speaker = meta.get("bot") or "the crew"
    where = "this room" if meta.get("room") == room else f"room {meta.get('room', '?')}"
    text = " ".join(hit.text.split())
    if len(text) > MAX_MEMORY_CHARS:
        text = text[: MAX_MEMORY_CHARS - 1].rstrip() + "…"
    return f"- {_when(float(meta.get('ts', 0)))}, {where}, {speaker} said: {text}"


def _relation_text(row: Any) -> str:
    subject = row["subject"] or "the user"
    return f"{subject} {row['predicate']} {row['object']}"


def build_context(
    *,
    hits: Sequence[Any],
    preferences: Sequence[Any],
    user_facts: Sequence[Any],
    entities: Sequence[Any],
    relations: Sequence[Any],
    room: str,
    budget_tokens: int,
) -> str:
    """The prompt section ('' when there is nothing to say or no room for it)."""
    sections: list[tuple[str, list[str]]] = [
        ("About the user:", [f"- {row['statement']}" for row in preferences]
         + [f"- The user {row['predicate']} {row['object']}." for row in user_facts]),
        ("Relevant memories:", [_memory_line(hit, room) for hit in hits]),
    ]
    entity_lines = []
    for row in entities:
        facts = [_relation_text(rel) for rel in relations
                 if row["name"] in (rel["subject"], rel["object"]) and rel["predicate"] != "mentioned with"][:3]
        linked = [rel["object"] if rel["subject"] == row["name"] else rel["subject"] for rel in relations
                  if rel["predicate"] == "mentioned with" and row["name"] in (rel["subject"], rel["object"])][:4]
        detail = "; ".join(facts + ([f"mentioned with {', '.join(linked)}"] if linked else []))
        entity_lines.append(f"- {row['name']} ({row['kind']})" + (f": {detail}" if detail else ""))
    sections.append(("People, places and things:", entity_lines))

    used = estimate_tokens(HEADER) + 1
    out = [HEADER]
    for title, lines in sections:
        kept = []
        cost = estimate_tokens(title) + 1
        for line in lines:
            line_cost = estimate_tokens(line) + 1
            if used + cost + line_cost <= budget_tokens:
                kept.append(line)
                cost += line_cost
        if kept:
            out += [title, *kept]
            used += cost
    return "\n".join(out) if len(out) > 1 else ""
