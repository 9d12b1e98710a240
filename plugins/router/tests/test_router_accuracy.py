"""Layer 1 against the labeled set, and the four messages of the user guide."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from nanofolks_router.classifier import TierClassifier

LABELED = Path(__file__).with_name("routing_labeled.jsonl")
# Written after the classifier and never used to tune it: how layer 1 does on unseen messages.
HOLDOUT = Path(__file__).with_name("routing_holdout.jsonl")
GUIDE_EXAMPLES = [
    ("What's the weather?", "simple"),
    ("Write me an email to my landlord", "medium"),
    ("Prove that the square root of 2 is irrational", "reasoning"),
    ("Debug this function: def f(x): return x +", "coding"),
]


def load_labeled(path: Path = LABELED) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize(("text", "tier"), GUIDE_EXAMPLES)
def test_the_guide_examples_get_their_tier_confidently_from_layer_1(text, tier):
    verdict = TierClassifier().classify(text)
    assert verdict.tier == tier
    assert verdict.confidence >= 0.6  # confident: no layer-2 call for these


def test_the_labeled_set_is_big_and_varied():
    rows = load_labeled()
    tiers = Counter(row["tier"] for row in rows)
    assert len(rows) >= 200
    assert set(tiers) == {"simple", "medium", "complex", "reasoning", "coding"}
    assert min(tiers.values()) >= 30
    assert sum("@" in row["text"] for row in rows) >= 10
    assert len({row["text"] for row in rows}) == len(rows)


def accuracy_report(rows: list[dict], title: str) -> tuple[float, list[str]]:
    classifier = TierClassifier()
    right, total = Counter(), Counter()
    misses = []
    for row in rows:
        verdict = classifier.classify(row["text"])
        total[row["tier"]] += 1
        if verdict.tier == row["tier"]:
            right[row["tier"]] += 1
        else:
            misses.append(f"  {row['tier']:>9} -> {verdict.tier:<9} {row['text'][:70]!r}")
    overall = sum(right.values()) / len(rows)
    lines = [f"{title}: layer-1 accuracy per tier"]
    for tier in sorted(total):
        lines.append(f"  {tier:<10} {right[tier]:>3}/{total[tier]:<3} {right[tier] / total[tier]:.0%}")
    lines.append(f"  overall    {sum(right.values())}/{len(rows)} {overall:.1%}")
    lines.append("misses:")
    return overall, lines + misses


def test_layer_1_accuracy_on_the_labeled_set_is_at_least_85_percent(capsys):
    overall, lines = accuracy_report(load_labeled(), "labeled set")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert overall >= 0.85


def test_layer_1_accuracy_on_unseen_messages_is_at_least_80_percent(capsys):
    rows = load_labeled(HOLDOUT)
    assert len(rows) >= 45
    overall, lines = accuracy_report(rows, "held-out set")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert overall >= 0.80
