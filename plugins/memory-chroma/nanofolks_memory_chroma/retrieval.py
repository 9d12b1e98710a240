"""How memory ranks: dense (MiniLM), keyword (FTS5 bm25) and entity matches, fused by reciprocal rank.

Each signal ranks its own candidates, and a message's fused score is
``sum(weight / (RRF_K + rank))`` over the signals that found it. Reciprocal-rank fusion needs
no score calibration between a cosine similarity and a bm25 value, and a message that two
signals agree on beats one that only one of them likes. Then time: a question asking *when*
favours turns that carry a date or time word, and a question naming a month favours turns
from (or mentioning) that month. The weights were tuned on the development half of the
labelled conversations in ``tests/bench/data`` (see ``tests/bench/bench_recall.py``); the
other half only measures.

Who spoke is indexed with each message (the keyword index's speaker column). A question naming a
speaker ("When did Maya go to Kyoto?") has the name taken out of the text it embeds (Maya never
says her own name, so it only blurs the vector), and her messages count 1.5 times their bm25
score on the keyword side. Measured on the two-people set of ``bench_recall.py``: +6 points
recall@10 on its test half, the assistant set unchanged.

Costs per query, besides embedding the question: one HNSW query, one FTS5 query and a few
indexed SQLite lookups for the entities named in it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection
from typing import Any

import attrs

from nanofolks_memory_chroma import lexical

DENSE, KEYWORD, ENTITY = "dense", "keyword", "entity"
ALL_SIGNALS = (DENSE, KEYWORD, ENTITY)
RRF_K = 10  # small k: the first few places of each list count most (tuned on the dev half)
WEIGHTS = {DENSE: 1.0, KEYWORD: 0.8, ENTITY: 0.3}
POOL = 50  # candidates each signal contributes
MENTIONS_PER_ENTITY = 200  # the latest mentions of an entity read per query (an index range)
TIME_BOOST = 0.25  # share added to the fused score of a dated turn when the question asks "when"

_WHEN = re.compile(
    r"\b(when|what (?:day|date|time|year|month|week)|which (?:day|date|year|month|week)|how long ago|since when|"
    r"what time)\b",
    re.IGNORECASE,
)
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_WORDS = {name: number for number, name in enumerate(_MONTHS, 1)} | {
    name[:3]: number for number, name in enumerate(_MONTHS, 1) if name != "may"
}
_DATED = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december|"
    r"jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"yesterday|today|tonight|tomorrow|weekend|ago|last (?:week|month|year|night|summer|winter|spring|fall|autumn)|"
    r"next (?:week|month|year|summer|winter|spring|fall|autumn)|this (?:morning|week|month|year|weekend)|"
    r"(?:19|20)\d\d|\d{1,2}(?:st|nd|rd|th)|\d{1,2}[/.]\d{1,2}|\d{1,2}(?::\d\d)?\s?(?:am|pm)|o'clock|"
    r"earlier|recently|since|until|birthday|anniversary)\b",
    re.IGNORECASE,
)


@attrs.define
class Ranked:
    """One message and why it ranks where it does. ``similarity``: cosine to the query (None: not a dense hit)."""

    id: str
    text: str
    room: str | None
    role: str | None
    bot: str | None
    ts: float
    score: float = 0.0
    similarity: float | None = None
    signals: set[str] = attrs.field(factory=set)

    @property
    def metadata(self) -> dict[str, Any]:
        return {"room": self.room, "role": self.role, "bot": self.bot, "ts": self.ts}


def asks_when(query: str) -> bool:
    """True for a question about time ("When did Anna move?", "what day was the party?")."""
    return _WHEN.search(query) is not None


def is_dated(text: str) -> bool:
    """True when the text carries a date or a time word."""
    return _DATED.search(text) is not None


def months_named(query: str) -> set[int]:
    return {
        _MONTH_WORDS[word]
        for word in re.findall(r"[a-z]+", query.lower())
        if word in _MONTH_WORDS
        and (word != "may" or re.search(r"\b(?:in|of|during|since|early|late|mid)\s+may\b", query, re.I))
    }


def matched_entities(store: Any, query: str, limit: int = 8) -> list[Any]:
    """Entities the query names: a word equal to an entity's name, or a multi-word name inside it."""
    words = sorted({re.sub(r"(['’]s)$", "", word) for word in re.findall(r"[\w'’-]+", query.lower())} - {""})
    words = [word for word in words if word not in lexical.STOPWORDS]
    if not words:
        return []
    return store.read(
        "SELECT id, name, kind, last_ts FROM entities WHERE key IN (SELECT value FROM json_each(?)) "
        "OR (instr(key, ' ') > 0 AND instr(?, key) > 0) ORDER BY last_ts DESC LIMIT ?",
        (json.dumps(words), query.lower(), limit),
    )


def _entity_rows(store: Any, entity_ids: list[int], limit: int, room: str | None) -> list[Any]:
    """Messages mentioning the most of ``entity_ids``, most recent first among equals."""
    counts: dict[int, int] = {}
    for entity_id in entity_ids:
        for (seq,) in store.read(
            "SELECT message_seq FROM mentions WHERE entity_id = ? ORDER BY message_seq DESC LIMIT ?",
            (entity_id, MENTIONS_PER_ENTITY),
        ):
            counts[seq] = counts.get(seq, 0) + 1
    best = sorted(counts, key=lambda seq: (-counts[seq], -seq))[: limit * (4 if room else 1)]
    rows = store.read(
        "SELECT seq, id, room, role, bot, ts, text FROM messages WHERE seq IN (SELECT value FROM json_each(?))",
        (json.dumps(best),),
    )
    order = {seq: index for index, seq in enumerate(best)}
    rows = sorted((row for row in rows if room is None or row["room"] == room), key=lambda row: order[row["seq"]])
    return rows[:limit]


def _rows_by_id(store: Any, ids: list[str]) -> list[Any]:
    return store.read(
        "SELECT seq, id, room, role, bot, ts, text FROM messages WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )


def rank(
    store: Any,
    query: str,
    *,
    limit: int,
    vectors: Any = None,
    embed: Any = None,
    room: str | None = None,
    exclude: Collection[str] = (),
    signals: Collection[str] = ALL_SIGNALS,
    time_aware: bool = True,
    weights: dict[str, float] | None = None,
    rrf_k: int = RRF_K,
    time_boost: float = TIME_BOOST,
    pool_size: int = POOL,
    strip_speakers: bool = True,
) -> list[Ranked]:
    """The ``limit`` messages most relevant to ``query``, best first, with a 0..1 fused ``score``.

    ``vectors``/``embed`` (the vector store and ``embedder.embed``) enable the dense signal;
    without them ranking is keyword and entity only (the index is off or being rebuilt).
    ``exclude``: message ids to leave out (the room's recent history, already in the prompt).
    ``strip_speakers``: take speakers' names out of the embedded question and favour what the
    named speakers said on the keyword side (off: the question as written, for benches).
    """
    weights = weights or WEIGHTS
    pool = max(pool_size, limit) + len(exclude)
    found: dict[str, Ranked] = {}

    def vote(signal: str, position: int, make: Any) -> None:
        entry = found.get(make.id) if isinstance(make, Ranked) else found.get(make["id"])
        if entry is None:
            entry = (
                make
                if isinstance(make, Ranked)
                else Ranked(
                    id=make["id"],
                    text=make["text"],
                    room=make["room"],
                    role=make["role"],
                    bot=make["bot"],
                    ts=float(make["ts"]),
                )
            )
            found[entry.id] = entry
        if isinstance(make, Ranked) and make.similarity is not None:
            entry.similarity = make.similarity
        entry.score += weights.get(signal, 0.0) / (rrf_k + position)
        entry.signals.add(signal)

    # Embedding the question on another thread while SQLite runs was measured slower, not faster:
    # the numpy forward pass needs the GIL between its many small operations.
    keyword_index = getattr(store, "keyword_index", False)
    speakers = lexical.speakers_named(store, query) if strip_speakers and keyword_index else set()
    vector = None
    if DENSE in signals and vectors is not None and embed is not None:
        meaning = query
        # A speaker's name is never in what they said: it pulls the question's vector toward
        # nothing they wrote. The keyword side matches it against who spoke instead.
        for name in speakers:
            meaning = re.sub(rf"\b{re.escape(name)}(?:['’]s)?\b", "", meaning)
        vector = embed([" ".join(meaning.split()) or query])[0]
    if KEYWORD in signals and keyword_index:
        terms = lexical.query_terms(query)
        rows = [row for row in lexical.search(store, terms, pool, room, speakers) if row["id"] not in exclude]
        for position, row in enumerate(rows[:pool_size], 1):
            vote(KEYWORD, position, row)
    if ENTITY in signals:
        entity_ids = [row["id"] for row in matched_entities(store, query)]
        if entity_ids:
            rows = [row for row in _entity_rows(store, entity_ids, pool, room) if row["id"] not in exclude]
            for position, row in enumerate(rows[:pool_size], 1):
                vote(ENTITY, position, row)
    if vector is not None:
        near = [(hit_id, score) for hit_id, score in vectors.nearest(vector, pool, room) if hit_id not in exclude][
            :pool_size
        ]
        rows = {row["id"]: row for row in _rows_by_id(store, [hit_id for hit_id, _ in near])}
        # A vector the log does not know (forgotten there, or a replaced log) is left out.
        for position, (hit_id, score) in enumerate((hit for hit in near if hit[0] in rows), 1):
            row = rows[hit_id]
            vote(
                DENSE,
                position,
                Ranked(
                    id=hit_id,
                    text=row["text"],
                    room=row["room"],
                    role=row["role"],
                    bot=row["bot"],
                    ts=float(row["ts"]),
                    similarity=score,
                ),
            )
    ranked = list(found.values())
    if time_aware and ranked:
        _favour_time(query, ranked, time_boost)
    best = sum(weights.get(signal, 0.0) for signal in signals) / (rrf_k + 1) or 1.0
    ranked.sort(key=lambda entry: -entry.score)
    for entry in ranked:
        entry.score = min(1.0, entry.score / best)
    return ranked[:limit]


def _favour_time(query: str, ranked: list[Ranked], boost_by: float) -> None:
    when, months = asks_when(query), months_named(query)
    if not when and not months:
        return
    for entry in ranked:
        boost = 0.0
        if when and is_dated(entry.text):
            boost += boost_by
        if months and (time.localtime(entry.ts).tm_mon in months or months_named(entry.text) & months):
            boost += boost_by
        entry.score *= 1.0 + boost
