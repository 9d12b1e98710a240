"""route(): tiers, models, fallbacks, stickiness across router instances, layer 2 only when unsure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from nanofolks_router.config import RoutingConfig
from nanofolks_router.router import TierRouterImpl

from nanofolks_core.api import ProviderError
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


ALL_TIERS = {
    "simple": {"model": "vllm/small"},
    "medium": {"model": "vllm/medium"},
    "complex": {"model": "vllm/large"},
    "coding": {"model": "vllm/coder"},
    "reasoning": {"model": "vllm/thinker"},
}
UNSURE = "Tell me about the history of Rome"  # no clear signal: layer 1 is unsure


def make_router(data_root: Path, routing: dict | None = None, clock=None) -> TierRouterImpl:
    """A router as the core builds it, from a raw ``routing`` section structured like config.json."""
    section, issues = structure_section({"tiers": ALL_TIERS, **(routing or {})}, RoutingConfig, "routing")
    assert not issues, issues
    kwargs = {"clock": clock} if clock else {}
    return TierRouterImpl(config=section, services=router_services(data_root), **kwargs)


class RecordingAsk:
    """The core's ask(prompt, model=, tier=) callable, answering with a fixed text and keeping the calls."""

    def __init__(self, answer: str = "complex", error: Exception | None = None) -> None:
        self.answer, self.error, self.prompts, self.targets = answer, error, [], []

    async def __call__(self, prompt: str, model: str | None = None, tier: str | None = None) -> str:
        self.prompts.append(prompt)
        self.targets.append((tier, model))
        if self.error:
            raise self.error
        return self.answer


def route(
    router: TierRouterImpl, text: str, room: str = "general", default_model: str | None = "vllm/default", ask=None
):
    return asyncio.run(router.route(text, room=room, default_model=default_model, ask=ask or RecordingAsk()))


@pytest.mark.parametrize(
    ("text", "tier", "model"),
    [
        ("What's the weather?", "simple", "vllm/small"),
        ("Write me an email to my landlord", "medium", "vllm/medium"),
        ("Prove that the square root of 2 is irrational", "reasoning", "vllm/thinker"),
        ("Debug this function: def f(x): return x +", "coding", "vllm/coder"),
    ],
)
def test_each_guide_example_gets_its_tier_and_model_without_an_llm_call(tmp_path, text, tier, model):
    ask = RecordingAsk()
    decision = route(make_router(tmp_path, {"sticky": False}), text, ask=ask)
    assert (decision.tier, decision.model, decision.layer) == (tier, model, 1)
    assert ask.prompts == []


def test_routing_off_or_without_any_tier_model_returns_none(tmp_path):
    assert route(make_router(tmp_path / "a", {"enabled": False}), "Prove that 2 is prime") is None
    section, _ = structure_section({}, RoutingConfig, "routing")
    bare = TierRouterImpl(config=section, services=router_services(tmp_path / "b"))
    assert route(bare, "Prove that 2 is prime") is None
    assert TierRouterImpl(services=router_services(tmp_path / "c")).active is False


# -- fallback when a tier has no model ---------------------------------------------------


def test_coding_without_a_model_uses_the_complex_model_and_says_so(tmp_path):
    tiers = {name: cfg for name, cfg in ALL_TIERS.items() if name != "coding"}
    decision = route(make_router(tmp_path, {"tiers": tiers}), "Debug this function: def f(x): return x +")
    assert decision.tier == "coding"
    assert decision.model == "vllm/large"
    assert "tier coding has no model configured; using complex's model" in decision.reason


def test_a_missing_tier_borrows_one_rank_up_before_one_rank_down(tmp_path):
    tiers = {"simple": ALL_TIERS["simple"], "complex": ALL_TIERS["complex"]}
    decision = route(make_router(tmp_path, {"tiers": tiers}), "Write me an email to my landlord")
    assert (decision.tier, decision.model) == ("medium", "vllm/large")


def test_a_tier_far_from_any_configured_one_uses_the_default_model(tmp_path):
    router = make_router(tmp_path, {"tiers": {"reasoning": ALL_TIERS["reasoning"]}, "sticky": False})
    decision = route(router, "Hello", default_model="vllm/default")
    assert (decision.tier, decision.model) == ("simple", "vllm/default")
    assert "using the default model (agents.defaults.model)" in decision.reason
    # Without a default model the nearest configured tier serves it.
    assert route(router, "Hello", default_model=None).model == "vllm/thinker"


def test_an_unknown_tier_name_in_config_is_an_error_naming_the_key(tmp_path):
    from nanofolks_core.api import NanofolksError

    with pytest.raises(NanofolksError, match=r"routing\.tiers\.complx .*known tiers: coding, complex"):
        make_router(tmp_path, {"tiers": {"complx": {"model": "vllm/x"}}})


# -- stickiness ----------------------------------------------------------------------------


def test_a_room_keeps_its_tier_across_router_instances_for_easier_messages(tmp_path):
    first = route(make_router(tmp_path), "Write me an email to my landlord", room="flat")
    assert (first.tier, first.layer) == ("medium", 1)
    # A new process: the room's tier comes from <data root>/routing/routing.db.
    later = route(make_router(tmp_path), "What's the weather?", room="flat")
    assert (later.tier, later.layer, later.model) == ("medium", 0, "vllm/medium")
    assert "sticky" in later.reason
    assert (tmp_path / "routing" / "routing.db").is_file()
    # Other rooms are routed on their own.
    assert route(make_router(tmp_path), "What's the weather?", room="other").tier == "simple"


def test_a_clearly_harder_message_breaks_stickiness_and_the_room_moves_up(tmp_path):
    route(make_router(tmp_path), "Hello", room="r")
    proof = route(make_router(tmp_path), "Prove that the square root of 2 is irrational", room="r")
    assert (proof.tier, proof.layer) == ("reasoning", 1)
    assert "clearly harder than simple" in proof.reason
    after = route(make_router(tmp_path), "Write me an email to my landlord", room="r")
    assert (after.tier, after.layer) == ("reasoning", 0)


def test_a_coding_message_breaks_a_non_coding_room_even_at_a_lower_rank(tmp_path):
    route(make_router(tmp_path), "Prove that the square root of 2 is irrational", room="r")
    code = route(make_router(tmp_path), "Debug this function: def f(x): return x +", room="r")
    assert (code.tier, code.layer) == ("coding", 1)
    assert "clearly a coding message" in code.reason
    # A complex request (same rank as coding) keeps the coding room where it is.
    kept = route(make_router(tmp_path), "Write a detailed business plan for a bakery, including pricing.", room="r")
    assert (kept.tier, kept.layer) == ("coding", 0)


def test_an_unsure_message_never_breaks_stickiness_nor_calls_layer_2(tmp_path):
    route(make_router(tmp_path), "Hello", room="r")
    ask = RecordingAsk(answer="reasoning")
    decision = route(make_router(tmp_path), UNSURE, room="r", ask=ask)
    assert (decision.tier, decision.layer) == ("simple", 0)
    assert ask.prompts == []


def test_a_sticky_tier_expires_after_sticky_minutes_of_quiet(tmp_path):
    now = [1_000_000.0]
    router = make_router(tmp_path, {"stickyMinutes": 30}, clock=lambda: now[0])
    route(router, "Write me an email to my landlord", room="r")
    now[0] += 29 * 60
    assert route(router, "Hello", room="r").layer == 0  # kept, and the quiet period restarts
    now[0] += 31 * 60
    fresh = route(router, "Hello", room="r")
    assert (fresh.tier, fresh.layer) == ("simple", 1)


def test_with_sticky_off_each_message_is_routed_on_its_own(tmp_path):
    router = make_router(tmp_path, {"sticky": False})
    route(router, "Prove that the square root of 2 is irrational", room="r")
    assert route(router, "Hello", room="r").tier == "simple"
    assert not (tmp_path / "routing" / "routing.db").exists()


# -- layer 2 -------------------------------------------------------------------------------


def test_hello_costs_no_layer_2_call(tmp_path):
    ask = RecordingAsk()
    assert route(make_router(tmp_path), "Hello", ask=ask).layer == 1
    assert ask.prompts == []


def test_an_unsure_message_asks_layer_2_once_and_takes_its_tier(tmp_path):
    ask = RecordingAsk(answer="Complex.")
    decision = route(make_router(tmp_path), UNSURE, room="r", ask=ask)
    assert (decision.tier, decision.layer, decision.model) == ("complex", 2, "vllm/large")
    assert len(ask.prompts) == 1
    assert UNSURE in ask.prompts[0] and "reasoning" in ask.prompts[0]
    tier, model = ask.targets[0]
    assert tier is not None and model is not None  # the cheapest configured tier answers, tagged for analytics
    # The LLM's choice becomes the room's sticky tier.
    assert route(make_router(tmp_path), "thanks", room="r", ask=ask).tier == "complex"
    assert len(ask.prompts) == 1


def test_layer_2_switched_off_means_no_call_and_layer_1s_guess(tmp_path):
    ask = RecordingAsk()
    decision = route(make_router(tmp_path, {"layer2": False}), UNSURE, ask=ask)
    assert decision.layer == 1
    assert ask.prompts == []


@pytest.mark.parametrize(
    ("ask", "expected"),
    [
        (RecordingAsk(error=ProviderError("vllm is unreachable")), "layer 2 failed (vllm is unreachable)"),
        (RecordingAsk(answer="I cannot tell"), "names no tier"),
    ],
)
def test_a_failed_or_useless_layer_2_answer_falls_back_to_layer_1(tmp_path, ask, expected):
    decision = route(make_router(tmp_path), UNSURE, ask=ask)
    assert decision.layer == 1
    assert expected in decision.reason
    assert len(ask.prompts) == 1
