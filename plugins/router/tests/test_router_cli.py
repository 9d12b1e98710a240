"""``nanofolks routing status | test | analytics | reset``, run as a user would."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from nanofolks_core.api import ChatMessage, LLMRequest, LLMResponse, Usage


def router_services(data_root):
    """What the core hands the router: its data folder and the registered tiers."""
    from nanofolks_router.plugin import TIERS as REGISTERED_TIERS

    from nanofolks_core.api import Services

    return Services(
        plugin="router",
        data_root=data_root,
        registered=lambda kind: list(REGISTERED_TIERS) if kind == "router-tier" else [],
    )


GUIDE_CONFIG = {
    "agents": {"defaults": {"model": "vllm/default"}},
    "routing": {
        "enabled": True,
        "tiers": {
            "simple": {"model": "vllm/small", "price": {"input": 0.15, "output": 0.6}},
            "medium": {"model": "vllm/medium"},
            "complex": {"model": "vllm/large", "price": {"input": 15, "output": 75}},
            "reasoning": {"model": "vllm/thinker", "price": {"input": 2, "output": 8}},
        },
    },
}


def write_config(home, data):
    (home / "config.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("What's the weather?", "simple"),
        ("Write me an email to my landlord", "medium"),
        ("Prove that the square root of 2 is irrational", "reasoning"),
        ("Debug this function: def f(x): return x +", "coding"),
    ],
)
def test_routing_test_json_puts_the_guide_examples_in_their_tiers(cli_runner, nanofolks_home, text, tier):
    write_config(nanofolks_home, GUIDE_CONFIG)
    result = cli_runner(["routing", "test", text, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tier"] == tier
    assert data["layer"] == 1
    assert 0.6 <= data["confidence"] <= 1
    assert data["model"]
    assert data["reason"]


def test_routing_test_works_without_any_config_and_says_routing_is_not_set_up(cli_runner):
    result = cli_runner(["routing", "test", "Hello"])
    assert result.exit_code == 0, result.output
    assert "tier:       simple" in result.output
    assert "layer:      1 (local rules)" in result.output
    assert "no routing.tiers.<tier>.model is configured" in result.output


def test_routing_test_names_the_borrowed_model_of_an_unconfigured_tier(cli_runner, nanofolks_home):
    write_config(nanofolks_home, GUIDE_CONFIG)
    data = json.loads(cli_runner(["routing", "test", "Fix this bug: my React app crashes", "--json"]).output)
    assert (data["tier"], data["model"]) == ("coding", "vllm/large")
    assert "using complex's model" in data["reason"]


def test_routing_status_shows_tiers_models_prices_sticky_rule_and_layer_2(cli_runner, nanofolks_home):
    write_config(nanofolks_home, GUIDE_CONFIG)
    result = cli_runner(["routing", "status"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Routing: on" in out
    assert "reasoning  rank 4  vllm/thinker" in out
    assert "$2/$8 per M tokens (config routing.tiers.reasoning.price)" in out
    assert "coding     rank 3  vllm/large" in out and "using complex's model" in out
    assert "rule: a room keeps its tier" in out
    assert "Layer 2 (LLM): on when layer 1 confidence < 0.6" in out
    data = json.loads(cli_runner(["routing", "status", "--json"]).output)
    assert data["enabled"] is True and data["sticky"] is True and data["layer2"] is True
    assert {row["tier"]: row["model"] for row in data["tiers"]}["medium"] == "vllm/medium"


def test_routing_status_when_disabled(cli_runner, nanofolks_home):
    write_config(nanofolks_home, {"routing": {"enabled": False, "tiers": {"simple": {"model": "vllm/s"}}}})
    assert "Routing: off (routing.enabled is false)" in cli_runner(["routing", "status"]).output


def test_a_misspelt_tier_is_an_error_without_traceback(cli_runner, nanofolks_home):
    from nanofolks_core.testing import main

    write_config(nanofolks_home, {"routing": {"tiers": {"complx": {"model": "vllm/x"}}}})
    assert main(["routing", "status"]) == 1
    write_config(nanofolks_home, {"routing": {"confidenceThreshold": 3}})
    assert main(["routing", "status"]) == 2


def test_routing_analytics_reports_recorded_usage_and_savings(cli_runner, nanofolks_home):
    from nanofolks_router.router import TierRouterImpl

    write_config(nanofolks_home, GUIDE_CONFIG)
    empty = cli_runner(["routing", "analytics"])
    assert "No routed LLM calls recorded yet" in empty.output

    from nanofolks_router.config import RoutingConfig

    from nanofolks_core.testing import structure_section

    section, _ = structure_section(GUIDE_CONFIG["routing"], RoutingConfig, "routing")
    router = TierRouterImpl(config=section, services=router_services(nanofolks_home))
    for tier, model, prompt, completion in [
        ("simple", "vllm/small", 400_000, 100_000),
        ("medium", "vllm/medium", 10, 5),
    ]:
        request = LLMRequest(model=model, messages=(ChatMessage(role="user", content="x"),), metadata={"tier": tier})
        router.record(
            request, LLMResponse(model=model, usage=Usage(prompt_tokens=prompt, completion_tokens=completion))
        )

    text = cli_runner(["routing", "analytics"]).output
    assert "simple" in text and "400000" in text
    assert "medium" in text and "unknown" in text  # vllm/medium has no price anywhere
    assert "Top tier: reasoning (vllm/thinker), price $2/$8 per M tokens (config routing.tiers.reasoning.price)" in text
    data = json.loads(cli_runner(["routing", "analytics", "--json"]).output)
    assert data["tiers"]["simple"]["cost"] == pytest.approx(0.12)  # 0.4 * 0.15 + 0.1 * 0.6
    assert data["total"]["calls"] == 2
    assert data["top_tier_cost"] == pytest.approx(1.60006)  # 0.4M * $2 + 0.1M * $8, plus 10 + 5 tokens
    assert data["savings"] == "unknown"  # the medium call has no known cost


def test_routing_reset_forgets_sticky_tiers(cli_runner, nanofolks_home):
    import asyncio

    from nanofolks_router.config import RoutingConfig
    from nanofolks_router.router import TierRouterImpl

    from nanofolks_core.testing import structure_section

    write_config(nanofolks_home, GUIDE_CONFIG)
    section, _ = structure_section(GUIDE_CONFIG["routing"], RoutingConfig, "routing")
    router = TierRouterImpl(config=section, services=router_services(nanofolks_home))

    async def no_llm(prompt: str) -> str:
        raise AssertionError("no layer-2 call expected")

    for room in ("a", "b"):
        asyncio.run(router.route("Write me an email to my landlord", room=room, default_model=None, ask=no_llm))
    assert "room a: medium" in cli_runner(["routing", "status"]).output
    assert "Forgot 1 sticky tier(s) (room 'a')" in cli_runner(["routing", "reset", "--room", "a"]).output
    assert [r["room"] for r in json.loads(cli_runner(["routing", "status", "--json"]).output)["rooms"]] == ["b"]
    assert "Forgot 1 sticky tier(s) (all rooms)" in cli_runner(["routing", "reset"]).output


def test_routing_test_and_status_in_a_fresh_process_do_not_import_litellm(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    write_config(home, GUIDE_CONFIG)
    code = (
        "import sys; from nanofolks_core.testing import main; "
        "codes = [main(['routing', 'test', 'Hello', '--json']), main(['routing', 'status']), "
        "main(['routing', 'analytics'])]; "
        "print('CODES', codes, 'litellm' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")} | {"NANOFOLKS_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "CODES [0, 0, 0] False" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("nanofolks_provider_litellm") is None, reason="needs a provider plugin for real LLM calls"
)
def test_layer2_goes_through_the_real_llm_client_only_when_unsure(cli_runner, nanofolks_home, llm_server):
    config = {
        "providers": {"vllm": {"apiBase": llm_server.base_url}},
        "routing": {"tiers": {"simple": {"model": "vllm/cheap-model"}, "complex": {"model": "vllm/big-model"}}},
    }
    write_config(nanofolks_home, config)
    hello = json.loads(cli_runner(["routing", "test", "Hello", "--layer2", "--json"]).output)
    assert hello["layer"] == 1
    assert llm_server.requests == []

    from nanofolks_core.testing.llm_server import Reply

    llm_server.push(Reply(content="complex"))
    unsure = json.loads(
        cli_runner(["routing", "test", "Tell me about the history of Rome", "--layer2", "--json"]).output
    )
    assert (unsure["tier"], unsure["layer"], unsure["model"]) == ("complex", 2, "vllm/big-model")
    (request,) = llm_server.requests
    assert request["model"] == "cheap-model"
    assert "Tell me about the history of Rome" in request["messages"][-1]["content"]
