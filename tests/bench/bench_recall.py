"""Recall of the chroma memory on long multi-session conversations: BM25 alone, dense alone, hybrid.

    python tests/bench/bench_recall.py                 # both sets: user/assistant, then two named people
    python tests/bench/bench_recall.py --set dialogs   # only the harder set (recall_dialogs.py, 4,320 turns)
    python tests/bench/bench_recall.py --tune          # grid over the fusion settings, on the dev half only

The conversations come from ``plugins/memory-chroma/tests/recall_conversations.py`` (deterministic,
labelled with the turns that answer each question). Each conversation is recorded through the
plugin's own ``record()`` into a fresh memory folder (SQLite log, FTS5, entity extraction,
real MiniLM embeddings, chromadb), then every question is ranked by the plugin's own retrieval
with one signal set per method:

* ``bm25``: the FTS5 keyword index alone;
* ``dense``: MiniLM + HNSW alone (what ``search()`` was before issue 12);
* ``hybrid``: both plus entity matches, reciprocal-rank fused, time-aware (``search()`` now).

recall@k = the share of a question's evidence turns among the first k results, averaged over
questions. Conversations 0, 2, 4 are the dev half (the fusion settings were tuned there);
1, 3, 5 the test half (only measured). Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.memory import MemoryEvent

TESTS = Path(__file__).resolve().parents[2] / "plugins" / "memory-chroma" / "tests"
SETS = {  # name -> (module file, builder): the user/assistant set, and two named people talking
    "assistant": ("recall_conversations.py", "conversations"),
    "dialogs": ("recall_dialogs.py", "dialogs"),
}
KS = (5, 10, 20)
METHODS: dict[str, dict[str, Any]] = {
    "bm25": {"signals": ("keyword",), "time_aware": False},
    "dense": {"signals": ("dense",), "time_aware": False},
    "hybrid": {},
    "hybrid, no entity signal": {"signals": ("dense", "keyword")},
    "hybrid, no time awareness": {"time_aware": False},
}


def load_set(file: str) -> Any:
    spec = importlib.util.spec_from_file_location(file[:-3], TESTS / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs classes look their module up
    spec.loader.exec_module(module)
    return module


class CachedEmbedder:
    """The real embedder, remembering question vectors (the grid asks the same questions many times)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.cache = inner, {}
        self.name, self.slug, self.model_id = inner.name, inner.slug, getattr(inner, "model_id", inner.name)

    def embed(self, texts: list[str]) -> Any:
        if len(texts) == 1 and texts[0] in self.cache:
            return self.cache[texts[0]][None]
        vectors = self.inner.embed(texts)
        if len(texts) == 1:
            self.cache[texts[0]] = vectors[0]
        return vectors


def record(conversation: Any, root: Path) -> ChromaMemory:
    memory = ChromaMemory(data_root=root)
    memory.embedder = CachedEmbedder(memory.embedder)
    for turn in conversation.turns:
        memory.record(
            MemoryEvent(
                id=turn.id,
                room=conversation.name,
                role=turn.role,
                text=turn.text,
                # Two people talking: who spoke is the turn's speaker, never said in its text.
                bot=getattr(turn, "speaker", None) or (None if turn.role == "user" else "assistant"),
                ts=turn.ts,
            )
        )
    memory.flush()
    return memory


def recall(memory: ChromaMemory, questions: list[Any], **options: Any) -> dict[str, Any]:
    """Mean recall@k over ``questions``, overall and per question kind."""
    per_kind: dict[str, list[list[float]]] = {}
    for question in questions:
        found = [entry.id for entry in memory.rank(question.text, limit=max(KS), **options)]
        scores = [len(set(found[:k]) & set(question.evidence)) / len(question.evidence) for k in KS]
        per_kind.setdefault(question.kind, []).append(scores)
        per_kind.setdefault("all", []).append(scores)
    return {kind: [sum(column) / len(rows) for column in zip(*rows, strict=True)] for kind, rows in per_kind.items()}


def merge(results: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Question-weighted mean of per-conversation results ``(questions, result)``."""
    out: dict[str, Any] = {}
    for kind in {kind for _, result in results for kind in result}:
        rows = [(count, result[kind]) for count, result in results if kind in result]
        total = sum(count for count, _ in rows)
        out[kind] = [sum(count * values[i] for count, values in rows) / total for i in range(len(KS))]
    return out


def number(conversation: Any) -> int:
    return int("".join(ch for ch in conversation.name if ch.isdigit()))


def tune(memories: list[tuple[Any, ChromaMemory]]) -> None:
    dev = [(conversation, memory) for conversation, memory in memories if number(conversation) % 2 == 0]
    rows = []
    grid = itertools.product((10, 30, 60), (0.8, 1.0, 1.3), (0.0, 0.3), (0.25,), (50, 100))
    for rrf_k, keyword, entity, boost, pool in grid:
        options = {
            "rrf_k": rrf_k,
            "time_boost": boost,
            "pool_size": pool,
            "weights": {"dense": 1.0, "keyword": keyword, "entity": entity},
        }
        result = merge([(len(c.questions), recall(m, list(c.questions), **options)) for c, m in dev])["all"]
        rows.append((result[1], result[0], result[2], rrf_k, keyword, entity, boost, pool))
    rows.sort(reverse=True)
    print("dev half, best settings first: recall@10 @5 @20 | rrf_k keyword_weight entity_weight time_boost pool")
    for row in rows[:15]:
        print(f"  {row[0]:.3f} {row[1]:.3f} {row[2]:.3f} | {row[3]:>3} {row[4]:.1f} {row[5]:.1f} {row[6]:.2f} {row[7]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=[*SETS, "both"], default="both", help="which labelled set (default both)")
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--sessions", type=int, default=None, help="sessions per conversation (default 12 / 20)")
    parser.add_argument("--tune", action="store_true", help="grid-search the fusion settings on the dev half")
    args = parser.parse_args(argv)
    for name in SETS if args.set == "both" else [args.set]:
        file, builder = SETS[name]
        sessions = args.sessions or (12 if name == "assistant" else 20)
        items = getattr(load_set(file), builder)(args.conversations, sessions)
        turns = sum(len(c.turns) for c in items)
        print(
            f"\n=== {name} set ({file}): {len(items)} conversations, {len(items) * sessions} sessions, "
            f"{turns} turns, {sum(len(c.questions) for c in items)} questions"
        )
        measure(items, args.tune)
    return 0


def measure(items: list[Any], tune_only: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        memories = [(c, record(c, Path(tmp) / c.name)) for c in items]
        print(f"recorded and embedded in {time.perf_counter() - started:.1f} s")
        try:
            if tune_only:
                tune(memories)
                return
            halves = {"dev": lambda n: n % 2 == 0, "test": lambda n: n % 2 == 1, "all": lambda n: True}
            for half, wanted in halves.items():
                chosen = [(c, m) for c, m in memories if wanted(number(c))]
                questions = sum(len(c.questions) for c, _ in chosen)
                print(f"\n{half} half: {len(chosen)} conversations, {questions} questions")
                print(f"  {'method':<27} {'r@5':>6} {'r@10':>6} {'r@20':>6}   r@10 by kind")
                for method, options in METHODS.items():
                    result = merge([(len(c.questions), recall(m, list(c.questions), **options)) for c, m in chosen])
                    kinds = "  ".join(f"{kind} {result[kind][1]:.2f}" for kind in sorted(result) if kind != "all")
                    r5, r10, r20 = result["all"]
                    print(f"  {method:<27} {r5:6.3f} {r10:6.3f} {r20:6.3f}   {kinds}")
        finally:
            for _, memory in memories:
                memory.close()


if __name__ == "__main__":
    sys.exit(main())
