"""The keyword side of memory: an SQLite FTS5 index over the event log, ranked with bm25.

The index lives in memory.db next to the log (``messages_fts``, external content: it stores
only the token index, the text stays in ``messages``) and triggers keep the two in step, so
forgetting a message removes it from keyword search in the same transaction. Tokens are
unicode61 words with the porter stemmer ("travelled" finds "travel"), diacritics folded.
Who spoke (the ``bot`` field: a crew member, or a named person in a conversation between
people) is indexed as a second column, so "when did Maya go to the concert?" finds Maya's
"I went to a concert yesterday", where her name is never said.

Names, places, numbers and dates are what a sentence embedding blurs and what a keyword
index finds exactly; the two are fused in :mod:`nanofolks_memory_chroma.retrieval`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection
from typing import Any

FTS_SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5(
    text, bot, content='messages', content_rowid='seq', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text, bot) VALUES (new.seq, new.text, new.bot);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text, bot) VALUES ('delete', old.seq, old.text, old.bot);
END;
"""
_OLD_INDEX = (
    "DROP TRIGGER IF EXISTS messages_fts_insert; DROP TRIGGER IF EXISTS messages_fts_delete; DROP TABLE messages_fts;"
)

# Words that carry no topic: left out of the keyword query so "what did I say about Rex"
# ranks by "say" and "rex" rather than by how often a turn uses "what" and "I".
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves ever also tell remember
    know think anything something thing things s t don didn doesn ve ll re m d get got say said""".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
# bm25 scores every message a term matches, so its cost grows with the term's frequency. A term
# found in more messages than this says little about any one of them (low IDF) and is left out
# of the keyword query; the dense and entity signals still see it. The first MAX_TERMS content
# words of a long message are enough to find what it is about.
COMMON_DOCS = 2000
MAX_TERMS = 8
SPEAKER_BOOST = 1.5


def create_index(db: sqlite3.Connection) -> bool:
    """Create the keyword index (and fill it from an older log); False if this SQLite lacks FTS5."""
    existed = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'").fetchone() is not None
    if existed and "bot" not in {row[1] for row in db.execute("PRAGMA table_info(messages_fts)")}:
        # An index from before the speaker column: rebuilt with it (a few seconds at 100k messages, once).
        db.executescript(_OLD_INDEX)
        existed = False
    try:
        db.executescript(FTS_SCHEMA)
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc).lower():
            return False  # keyword search off; dense search still works
        raise
    if not existed:
        # A log written before the keyword index existed: index it once, now.
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    return True


def query_terms(text: str) -> list[str]:
    """The content words of a query, lowercased, stopwords and repeats dropped, in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


def shares_words(terms: list[str], text: str) -> bool:
    """True when ``text`` has enough of the query's content ``terms`` to be on topic by words alone:
    two of them (stems compared, so "lives" meets "live"), or every one of a one-word query."""
    if not terms:
        return False
    stems = {word[:5] for word in query_terms(text)}
    shared = sum(1 for term in terms if term[:5] in stems)
    return shared >= min(2, len(terms))


def match_expression(terms: list[str]) -> str:
    """An FTS5 query matching any of ``terms`` in what was said (each quoted, so no word is read as
    an operator; the speaker column is left out: it reorders matches, it does not make them)."""
    return "text : (" + " OR ".join('"' + term.replace('"', '""') + '"' for term in terms) + ")"


def search(
    store: Any, terms: list[str], limit: int, room: str | None = None, speakers: Collection[str] = ()
) -> list[sqlite3.Row]:
    """Messages matching any of ``terms``, best bm25 first (rows: seq, id, room, role, bot, ts, text).

    ``speakers``: names the query gives (see :func:`speakers_named`); what they said counts
    SPEAKER_BOOST times its bm25 score ("when did Maya go to the concert" puts Maya's "I went to
    a concert" ahead of Joel's "I'd love to go to a concert")."""
    terms = selective(store, terms[:MAX_TERMS])
    if not terms or limit <= 0:
        return []
    # The FTS5 ranking runs first on its own (its fast path); a room filter then keeps what fits,
    # so it over-fetches.
    fetch = limit * 8 if room else limit
    rows = store.read(
        "SELECT m.seq, m.id, m.room, m.role, m.bot, m.ts, m.text, hit.rank FROM "
        "(SELECT rowid, rank FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?) hit "
        "JOIN messages m ON m.seq = hit.rowid ORDER BY hit.rank",
        (match_expression(terms), fetch),
    )
    if speakers:
        named = {name.lower() for name in speakers}
        # bm25 ranks are negative, lower is better: scaling a named speaker's rows moves them up.
        rows.sort(key=lambda row: row["rank"] * (SPEAKER_BOOST if (row["bot"] or "").lower() in named else 1.0))
    if room:
        rows = [row for row in rows if row["room"] == room]
    return rows[:limit]


def selective(store: Any, terms: list[str]) -> list[str]:
    """``terms`` without those found in more than COMMON_DOCS messages (each checked by stepping
    through its posting list at most that far, never by scoring it)."""
    if not terms or (store.read("SELECT max(seq) FROM messages")[0][0] or 0) <= COMMON_DOCS:
        return terms
    return [
        term
        for term in terms
        if not store.read(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT 1 OFFSET ?",
            (match_expression([term]), COMMON_DOCS),
        )
    ]


def speakers_named(store: Any, query: str) -> set[str]:
    """Capitalised words of ``query`` that are someone's name as a speaker (the indexed ``bot``
    column), e.g. "Maya" in "When did Maya go to Kyoto?". One FTS5 index probe per word."""
    words = {re.sub(r"['’]s$", "", word) for word in re.findall(r"\b[A-Z][\w'’-]+", query)}
    return {
        word
        for word in words
        if word.lower() not in STOPWORDS
        and store.read("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? LIMIT 1", (f'bot : "{word}"',))
    }
