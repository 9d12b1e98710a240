"""Layer-1 routing speed and accuracy over the labeled set (plugins/router/tests/routing_labeled.jsonl).

Run: nox -s bench  (or: python tests/bench/bench_router.py [--rounds N] [--target-ms MS])
Target: median under 2 ms per message for the local classifier (issue: tier routing). Also
times a whole ``route()`` (classifier + SQLite sticky state) for reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROUTER_TESTS = Path(__file__).resolve().parents[2] / "plugins" / "router" / "tests"
LABELED = ROUTER_TESTS / "routing_labeled.jsonl"
HOLDOUT = ROUTER_TESTS / "routing_holdout.jsonl"  # written after the classifier, never tuned on


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20, help="times each message is classified")
    parser.add_argument("--target-ms", type=float, default=2.0)
    args = parser.parse_args()

    from nanofolks_router.classifier import TierClassifier

    rows = [json.loads(line) for line in LABELED.read_text(encoding="utf-8").splitlines() if line.strip()]
    classifier = TierClassifier()
    samples: list[float] = []
    right, total, unsure = Counter(), Counter(), 0
    for row in rows:
        verdict = classifier.classify(row["text"])
        total[row["tier"]] += 1
        right[row["tier"]] += verdict.tier == row["tier"]
        unsure += verdict.confidence < 0.6
        for _ in range(args.rounds):
            started = time.perf_counter()
            classifier.classify(row["text"])
            samples.append((time.perf_counter() - started) * 1000)
    median, p95 = statistics.median(samples), percentile(samples, 0.95)
    print(f"layer 1 over {len(rows)} messages x {args.rounds} rounds:")
    print(f"  median {median:.3f} ms  p95 {p95:.3f} ms  max {max(samples):.3f} ms per message")
    print("accuracy per tier:")
    for tier in sorted(total):
        print(f"  {tier:<10} {right[tier]:>3}/{total[tier]:<3} {right[tier] / total[tier]:6.1%}")
    overall = sum(right.values()) / len(rows)
    print(f"  overall    {sum(right.values()):>3}/{len(rows):<3} {overall:6.1%}")
    print(f"unsure (confidence < 0.6, would ask layer 2 outside a sticky room): {unsure}/{len(rows)}")
    held = [json.loads(line) for line in HOLDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    held_right = sum(classifier.classify(row["text"]).tier == row["tier"] for row in held)
    print(f"held-out set: {held_right}/{len(held)} {held_right / len(held):.1%}")

    route_ms = time_route(rows)
    print(f"whole route() with sticky state in SQLite: median {route_ms:.3f} ms per message")
    if median > args.target_ms:
        print(f"FAIL: layer-1 median {median:.3f} ms is over the {args.target_ms:g} ms target")
        return 1
    return 0


def time_route(rows: list[dict]) -> float:
    from nanofolks_router.config import RoutingConfig, TierConfig
    from nanofolks_router.plugin import TIERS
    from nanofolks_router.router import TierRouterImpl

    async def never(prompt: str) -> str:
        return "medium"  # layer 2 answer for unsure messages; no real model in a benchmark

    with tempfile.TemporaryDirectory() as root:
        config = RoutingConfig(tiers={tier.name: TierConfig(model=f"vllm/{tier.name}") for tier in TIERS})
        router = TierRouterImpl(data_root=Path(root), tiers=list(TIERS), sections={"routing": config})
        samples = []

        async def run() -> None:
            for index, row in enumerate(rows):
                started = time.perf_counter()
                await router.route(row["text"], room=f"room-{index % 10}", default_model=None, ask=never)
                samples.append((time.perf_counter() - started) * 1000)

        asyncio.run(run())
    return statistics.median(samples)


if __name__ == "__main__":
    sys.exit(main())
