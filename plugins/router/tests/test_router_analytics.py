"""record() and the analytics report: tokens and cost per tier, savings against the top tier."""

from __future__ import annotations

import importlib.util
import json

import pytest
from nanofolks_router.analytics import build_report
from nanofolks_router.config import RoutingConfig
from nanofolks_router.prices import PriceBook
from nanofolks_router.router import TierRouterImpl

from nanofolks_core.api import ChatMessage, LLMRequest, LLMResponse, Usage
from nanofolks_core.testing import structure_section


def router_services(data_root):
    """What the core hands the router: its data folder and the registered tiers."""
    from nanofolks_router.plugin import TIERS as REGISTERED_TIERS

    from nanofolks_core.api import Services

    return Services(
        plugin="router",
        data_root=data_root,
        registered=lambda kind: list(REGISTERED_TIERS) if kind == "router-tier" else [],
    )


HAS_LITELLM = importlib.util.find_spec("litellm") is not None


def make_router(data_root, tiers: dict) -> TierRouterImpl:
    section, issues = structure_section({"tiers": tiers}, RoutingConfig, "routing")
    assert not issues, issues
    return TierRouterImpl(config=section, services=router_services(data_root))


def call(router, tier, model, prompt, completion, cost=None, metadata=None):
    request = LLMRequest(
        model=model,
        messages=(ChatMessage(role="user", content="hi"),),
        metadata={"tier": tier, "room": "general", "bot": "leader"} if metadata is None else metadata,
    )
    response = LLMResponse(
        content="ok", model=model, usage=Usage(prompt_tokens=prompt, completion_tokens=completion), cost=cost
    )
    router.record(request, response)


def report_of(router, use_litellm=True):
    table = router.table
    return build_report(router.store.calls(), table, PriceBook(table, use_litellm=use_litellm), None)


PRICED = {
    "simple": {"model": "vllm/small", "price": {"input": 1.0, "output": 2.0}},
    "reasoning": {"model": "vllm/thinker", "price": {"input": 10.0, "output": 40.0}},
}


def test_tokens_and_costs_per_tier_and_the_saving_against_the_top_tier(tmp_path):
    router = make_router(tmp_path, PRICED)
    call(router, "simple", "vllm/small", 1_000_000, 500_000)  # no provider cost: 1 + 1 = $2 from config
    call(router, "simple", "vllm/small", 200_000, 100_000, cost=0.5)  # the provider's figure wins
    call(router, "reasoning", "vllm/thinker", 100_000, 50_000)  # 1 + 2 = $3
    call(router, None, "vllm/small", 9, 9, metadata={})  # not routed: not counted
    # A second router instance reads the same database.
    report = report_of(make_router(tmp_path, PRICED)).as_dict()
    assert report["tiers"]["simple"] == {
        "calls": 2,
        "prompt_tokens": 1_200_000,
        "completion_tokens": 600_000,
        "cost": 2.5,
        "calls_without_cost": 0,
    }
    assert report["tiers"]["reasoning"]["cost"] == 3.0
    assert report["total"]["calls"] == 3 and report["total"]["cost"] == 5.5
    # Always reasoning: 1.3M input * $10 + 0.65M output * $40 = 13 + 26 = $39.
    assert report["top_tier"] == {
        "tier": "reasoning",
        "model": "vllm/thinker",
        "price": {"input_per_million": 10.0, "output_per_million": 40.0},
        "price_source": "config routing.tiers.reasoning.price",
    }
    assert report["top_tier_cost"] == 39.0
    assert report["savings"] == 33.5
    assert report["savings_percent"] == 85.9
    assert report["cost_sources"] == {
        "config routing.tiers.simple.price": 1,
        "provider": 1,
        "config routing.tiers.reasoning.price": 1,
    }


def test_without_any_price_costs_and_savings_are_unknown_not_invented(tmp_path):
    router = make_router(tmp_path, {"simple": {"model": "vllm/small"}, "reasoning": {"model": "vllm/thinker"}})
    call(router, "simple", "vllm/small", 1000, 100)
    report = report_of(router).as_dict()
    assert report["tiers"]["simple"]["cost"] == "unknown"
    assert report["tiers"]["simple"]["prompt_tokens"] == 1000
    assert report["total"]["cost"] == "unknown"
    assert report["top_tier"]["price_source"] == "unknown"
    assert report["top_tier_cost"] == "unknown" and report["savings"] == "unknown"
    assert "routing.tiers.reasoning.price" in report["note"]


def test_a_known_top_price_with_an_unpriced_call_still_gives_no_saving(tmp_path):
    tiers = {"simple": {"model": "vllm/small"}, "reasoning": PRICED["reasoning"]}
    router = make_router(tmp_path, tiers)
    call(router, "simple", "vllm/small", 1000, 100)
    report = report_of(router).as_dict()
    assert report["top_tier_cost"] == pytest.approx(0.014)
    assert report["savings"] == "unknown"
    assert "1 call(s) have no known cost" in report["note"]


@pytest.mark.skipif(not HAS_LITELLM, reason="litellm's price map is only used when litellm is installed")
def test_litellm_price_map_prices_known_models_and_is_named_as_the_source(tmp_path):
    router = make_router(tmp_path, {"simple": {"model": "openai/gpt-4o-mini"}, "reasoning": {"model": "openai/o3"}})
    call(router, "simple", "openai/gpt-4o-mini", 1_000_000, 1_000_000)
    report = report_of(router).as_dict()
    assert report["top_tier"]["price_source"] == "litellm price map (o3)"
    price = report["top_tier"]["price"]
    assert price["input_per_million"] > 0 and price["output_per_million"] > 0
    assert report["tiers"]["simple"]["cost"] > 0
    assert report["savings"] > 0


def test_no_calls_yet_reads_nothing_and_creates_no_database(tmp_path):
    router = make_router(tmp_path, PRICED)
    report = report_of(router)
    assert report.total.calls == 0
    assert report.note == "no LLM calls recorded yet"
    assert not (tmp_path / "routing").exists()
    json.dumps(report.as_dict())
