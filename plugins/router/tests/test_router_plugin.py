"""Registration: what the plugin contributes, that discovery stays light, and the factory contract."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import pytest
from nanofolks_router import plugin
from nanofolks_router.config import RoutingConfig

from nanofolks_core.api import Router, Services
from nanofolks_core.testing import ConfigError, build_config


def test_discovery_imports_nothing_heavy(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from nanofolks_core.api import App
        app = App()
        app.config  # structures the routing section too
        names = sorted(spec.name for spec in app.registry.all("router-tier"))
        heavy = sorted(m for m in ("litellm", "sqlite3", "click", "nanofolks_router.router",
                                   "nanofolks_router.classifier", "nanofolks_router.cli") if m in sys.modules)
        print("TIERS", names, "HEAVY", heavy)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env.update(NANOFOLKS_HOME=str(tmp_path), NANOFOLKS_LOAD_PLUGINS="router")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert "TIERS ['coding', 'complex', 'medium', 'reasoning', 'simple'] HEAVY []" in proc.stdout, (
        proc.stdout + proc.stderr
    )


def test_the_plugin_registers_tiers_router_section_and_command(register_plugin):
    registry = register_plugin(plugin, "router")
    ranks = {spec.name: spec.rank for spec in registry.all("router-tier")}
    assert ranks == {"simple": 1, "medium": 2, "complex": 3, "coding": 3, "reasoning": 4}
    router = registry.get("router", "tiers")
    assert router.factory == "nanofolks_router.router:TierRouterImpl"
    assert router.config_section() == "routing"  # the router owns the whole "routing" section
    assert registry.config_sections()["routing"] is plugin.RoutingConfig
    assert registry.get("command", "routing").load().name == "routing"


def test_the_factory_builds_a_tier_router_with_the_cores_arguments(register_plugin, tmp_path):
    registry = register_plugin(plugin, "router")
    spec = registry.get("router", "tiers")
    section = plugin.RoutingConfig(tiers={"simple": plugin.TierConfig(model="vllm/small")})
    router = spec.build(section, Services(plugin="router", data_root=tmp_path, registered=registry.all))
    assert isinstance(router, Router)

    async def ask(prompt: str, model: str | None = None, tier: str | None = None) -> str:
        raise AssertionError("a greeting must not cost an LLM call")

    decision = asyncio.run(router.route("Hello", room="general", default_model=None, ask=ask))
    assert (decision.tier, decision.model, decision.layer) == ("simple", "vllm/small", 1)
    router.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"stickyMinutes": -5}, "routing: stickyMinutes must be at least 0, got -5"),
        ({"confidenceThreshold": 1.5}, "routing: confidenceThreshold must be from 0 to 1, got 1.5"),
        ({"tiers": {"simple": {"price": {"input": -1, "output": 0}}}}, "input must be at least 0, got -1"),
    ],
)
def test_out_of_range_settings_name_the_key_and_the_range(tmp_path, settings, message):
    with pytest.raises(ConfigError) as caught:
        build_config({"routing": settings}, tmp_path / "config.json", {"routing": RoutingConfig})
    assert message in str(caught.value)
