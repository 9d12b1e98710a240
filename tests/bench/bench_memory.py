"""Benchmark the chroma memory backend: insert rate, and search/context latency at 10k and 100k memories.

    python tests/bench/bench_memory.py                 # 100,000 memories, 3,000 of them embedded for real
    python tests/bench/bench_memory.py --n 20000 --real 1000 --queries 100

What is measured, exactly:

* Embedding throughput: ``--real`` distinct sentences (built from templates) are embedded
  with the real numpy all-MiniLM-L6-v2 model; embeddings/s is printed on its own.
* The other memories are DERIVED, not embedded: memory ``i`` reuses real vector
  ``i % real`` plus small Gaussian noise (renormalised), and its text is that sentence with
  a serial number. Embedding 100k texts with the numpy model would take ~10-20 minutes on
  two cores; this keeps the index realistically clustered while the bench runs in minutes.
* Insert rate: every memory goes through ``ChromaMemory.record()`` and the background
  worker (SQLite event log, rule-based extraction, chromadb upsert) exactly as in a chat;
  only the embedding step is a lookup of the prepared vectors. Rate = memories / (time
  from the first record() to the end of flush()).
* Query latency, at 10k and at 100k memories, over ``--queries`` fresh questions:
  ``hnsw`` = the chromadb query alone (query vector ready), ``keyword`` = the FTS5 bm25
  query alone, ``dense`` = embed + HNSW (what ``search()`` was before issue 12, measured in
  the same run as a baseline), ``search`` = ``search()`` (embedding the question with the real model, HNSW,
  FTS5, entity lookups, fusion, plus matching facts/entities/preferences), ``context`` = the
  full ``context()`` assembly. Target: search p50 < 20 ms at 100k.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from nanofolks_memory_chroma import minilm
from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.memory import MemoryEvent

PEOPLE = ["Anna", "Tom", "Maria", "Raj", "Lena", "Kofi", "Sam", "Yuki", "Omar", "Eva"]
PLACES = ["Berlin", "Lisbon", "Tokyo", "Paris", "Nairobi", "Toronto", "Madrid", "Seoul", "Oslo", "Lima"]
THINGS = [
    "the tax report",
    "the garden",
    "my bike",
    "the new laptop",
    "our wedding",
    "the server migration",
    "the piano lessons",
    "the kitchen renovation",
    "the marathon training",
    "the Python refactor",
]
TEMPLATES = [
    "My friend {p} is moving to {c} next month.",
    "Remind me to finish {t} before the weekend.",
    "I had a long call with {p} about {t}.",
    "We are planning a trip to {c} in the spring.",
    "{p} recommended a great restaurant in {c}.",
    "I'm worried about {t}, it keeps slipping.",
    "Can you summarise what we decided about {t}?",
    "My sister {p} lives in {c} and works at a bakery.",
    "The deadline for {t} moved to Friday.",
    "I prefer short answers when we talk about {t}.",
]
QUESTIONS = [
    "what pets do I have?",
    "when is the tax deadline?",
    "who lives in Lisbon?",
    "travel plans for spring",
    "what did Anna say?",
    "how is the marathon going?",
    "which restaurant was recommended?",
    "what is slipping behind schedule?",
    "tell me about the server",
    "any news about the wedding?",
]


def sentences(count: int, rng: random.Random) -> list[str]:
    out = set()
    while len(out) < count:
        text = rng.choice(TEMPLATES).format(p=rng.choice(PEOPLE), c=rng.choice(PLACES), t=rng.choice(THINGS))
        out.add(f"{text} ({len(out)})" if text in out else text)
    return sorted(out)


class PreparedEmbedder:
    """Vectors prepared in advance for recorded texts; anything else (questions) goes to the real model."""

    def __init__(self, model: minilm.MiniLM, table: dict[str, np.ndarray]) -> None:
        self.model, self.table = model, table
        self.name, self.slug = model.name, "minilm-l6-v2"

    def embed(self, texts: list[str]) -> np.ndarray:
        if all(text in self.table for text in texts):
            return np.stack([self.table[text] for text in texts])
        return self.model.encode(texts)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def measure_queries(memory: ChromaMemory, model: minilm.MiniLM, count: int, rng: random.Random) -> None:
    questions = [f"{rng.choice(QUESTIONS)} {rng.choice(PEOPLE)}" for _ in range(count)]
    vectors = model.encode(questions)
    timings: dict[str, list[float]] = {"hnsw": [], "keyword": [], "dense": [], "search": [], "context": []}
    memory.search("warm up")
    for question, vector in zip(questions, vectors, strict=True):
        started = time.perf_counter()
        memory.vectors.query(vector, 10)
        timings["hnsw"].append(time.perf_counter() - started)
        started = time.perf_counter()
        memory.rank(question, limit=10, signals=("keyword",))
        timings["keyword"].append(time.perf_counter() - started)
        started = time.perf_counter()
        # What search() did before issue 12 (embed + HNSW, documents included): the same run's
        # baseline, so the hybrid ranking's own cost shows whatever the machine's load.
        memory.vectors.query(memory.embedder.embed([question])[0], 10)
        timings["dense"].append(time.perf_counter() - started)
        started = time.perf_counter()
        memory.search(question, limit=10)
        timings["search"].append(time.perf_counter() - started)
        started = time.perf_counter()
        memory.context_sync(question, room="room-0", bot="leader", budget_tokens=800)
        timings["context"].append(time.perf_counter() - started)
    for name, values in timings.items():
        ms = [value * 1000 for value in values]
        print(f"    {name:<8} p50 {pct(ms, 50):7.2f} ms   p95 {pct(ms, 95):7.2f} ms   ({len(ms)} queries)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="memories to insert (default 100000)")
    parser.add_argument("--real", type=int, default=3000, help="sentences embedded with the real model")
    parser.add_argument("--queries", type=int, default=200, help="questions per latency measurement")
    parser.add_argument("--checkpoint", type=int, default=10_000, help="also measure latency at this size")
    parser.add_argument("--noise", type=float, default=0.02, help="noise added to derive vectors")
    parser.add_argument("--dir", type=Path, help="keep the data here instead of a temp dir")
    args = parser.parse_args(argv)
    rng = random.Random(7)
    model = minilm.load()

    real_texts = sentences(min(args.real, args.n), rng)
    started = time.perf_counter()
    real_vectors = model.encode(real_texts, batch_size=64)
    took = time.perf_counter() - started
    print(
        f"embedding: {len(real_texts)} real sentences in {took:.1f} s = {len(real_texts) / took:.0f} embeddings/s "
        "(numpy all-MiniLM-L6-v2)"
    )

    noise_rng = np.random.default_rng(7)
    texts, table = [], {}
    for i in range(args.n):
        base = i % len(real_texts)
        text = real_texts[base] if i < len(real_texts) else f"{real_texts[base]} [#{i}]"
        vector = real_vectors[base]
        if i >= len(real_texts):
            vector = vector + noise_rng.normal(0, args.noise, vector.shape).astype(np.float32)
            vector /= np.linalg.norm(vector)
        texts.append(text)
        table[text] = vector
    print(f"derived: {args.n - len(real_texts)} memories reuse a real vector + N(0, {args.noise}) noise, renormalised")

    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        memory = ChromaMemory(data_root=root)
        memory.embedder = PreparedEmbedder(model, table)
        checkpoints = sorted({min(args.checkpoint, args.n), args.n})
        done, total_time = 0, 0.0
        for checkpoint in checkpoints:
            started = time.perf_counter()
            for i in range(done, checkpoint):
                memory.record(
                    MemoryEvent(
                        id=f"m{i}",
                        room=f"room-{i % 20}",
                        role="user" if i % 2 == 0 else "assistant",
                        text=texts[i],
                        bot=None if i % 2 == 0 else "leader",
                        ts=1.7e9 + i,
                    )
                )
            memory.flush()
            took = time.perf_counter() - started
            total_time += took
            print(
                f"\ninsert: {checkpoint - done} memories in {took:.1f} s = {(checkpoint - done) / took:.0f}/s "
                f"(SQLite log + extraction + chromadb upsert; total {checkpoint})"
            )
            done = checkpoint
            status = memory.status()
            sizes = status["size_bytes"]
            print(
                f"at {checkpoint} memories: vectors {status['vectors']}, entities {status['entities']}, "
                f"db {sizes['database'] / 1e6:.1f} MB, vectors {sizes['vectors'] / 1e6:.1f} MB"
            )
            measure_queries(memory, model, args.queries, rng)
        print(f"\noverall insert rate: {args.n / total_time:.0f} memories/s")
        memory.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
