"""Context windows and prices read from litellm's bundled map without importing litellm.

The window check before every call must not cost ``import litellm`` (seconds), and what it
reads must be what litellm itself would answer. Import checks run in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nanofolks_provider_litellm import model_map, plugin

from nanofolks_core.api import ProviderSpec


def fresh_python(code: str, tmp_path: Path) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("NANOFOLKS_", "LITELLM_"))}
    environ["NANOFOLKS_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=environ, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_context_window_is_read_without_importing_litellm(tmp_path):
    out = fresh_python(
        """
        import json, sys
        from nanofolks_core.api import ProviderSpec
        from nanofolks_provider_litellm.provider import LiteLLMProvider
        factory = "nanofolks_provider_litellm.provider:LiteLLMProvider"
        windows = {}
        for name, model in [("openai", "openai/gpt-4o"), ("anthropic", "anthropic/claude-haiku-4-5"),
                            ("vllm", "vllm/m"), ("openai", "openai/a-model-nobody-knows")]:
            provider = LiteLLMProvider(spec=ProviderSpec(name=name, factory=factory))
            windows[model] = provider.context_window(model)
        print(json.dumps({"windows": windows, "imported": sorted(m for m in ("litellm", "openai", "tiktoken")
                                                                 if m in sys.modules)}))
        """,
        tmp_path,
    )
    assert out["imported"] == []
    windows = out["windows"]
    assert windows["openai/gpt-4o"] == 128000
    assert windows["anthropic/claude-haiku-4-5"] == 200000
    # A self-hosted server's model and an unknown one: no guess, the core's setting or default applies.
    assert windows["vllm/m"] is None
    assert windows["openai/a-model-nobody-knows"] is None


def test_every_row_matches_what_litellm_loads():
    from nanofolks_provider_litellm import runtime

    litellm_table = runtime.load().module.model_cost
    ours = model_map.table()
    assert set(ours) == set(litellm_table)

    def number(value):
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):  # the map's "sample_spec" row documents fields in words
            return None

    mismatched = []
    for name, row in litellm_table.items():
        window = number(row.get("max_input_tokens") or row.get("max_tokens"))
        expected = model_map.ModelInfo(
            window=int(window) if window else None,
            input_cost_per_token=number(row.get("input_cost_per_token")),
            output_cost_per_token=number(row.get("output_cost_per_token")),
            provider=row.get("litellm_provider"),
        )
        if ours[name] != expected:
            mismatched.append(name)
    assert mismatched == []


def test_alias_rows_are_served_as_the_row_they_name():
    raw = {
        "fallback_generalizations": {"rules": []},
        "vendor/big": {"max_input_tokens": 1000, "litellm_provider": "vendor", "aliases": ["vendor/big-latest"]},
        "vendor/small": {"max_tokens": 50, "litellm_provider": "vendor"},
        "vendor/pointer": {"alias_of": "vendor/small"},
        "vendor/dangling": {"alias_of": "vendor/gone"},
        "vendor/chained": {"alias_of": "vendor/pointer"},
        # An alias may not take over a real row.
        "vendor/other": {"max_input_tokens": 7, "litellm_provider": "vendor", "aliases": ["vendor/small"]},
    }
    rows = model_map._compact(model_map._resolve_aliases(raw))
    assert set(rows) == {"vendor/big", "vendor/big-latest", "vendor/small", "vendor/pointer", "vendor/other"}
    assert rows["vendor/big-latest"] is rows["vendor/big"] and rows["vendor/big"].window == 1000
    assert rows["vendor/pointer"].window == 50
    assert rows["vendor/small"].window == 50


@pytest.mark.parametrize(
    ("name", "model", "provider_prefix"),
    [("openai", "openai/gpt-4o", "openai"), ("openrouter", "openrouter/openai/gpt-4o", "openrouter")],
)
def test_a_bare_row_counts_only_for_its_own_provider(name, model, provider_prefix):
    from nanofolks_provider_litellm.provider import LiteLLMProvider

    provider = LiteLLMProvider(spec=ProviderSpec(name=name, factory=plugin.FACTORY))
    info = model_map.lookup(provider.litellm_model(model), provider_prefix)
    bare = model_map.table()["gpt-4o"]
    if name == "openai":
        assert info == bare  # "openai/gpt-4o" is litellm's "gpt-4o" row
    else:
        assert info is None or info.provider == "openrouter"  # never openai's price for an openrouter call


def test_importing_litellm_restores_collection_and_freezes_its_objects(tmp_path):
    out = fresh_python(
        """
        import gc, json
        from nanofolks_provider_litellm import runtime
        before = gc.get_freeze_count()
        lib = runtime.load()
        print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count() - before,
                          "works": callable(lib.module.acompletion)}))
        """,
        tmp_path,
    )
    assert out["enabled"] is True
    assert out["frozen"] > 100_000  # litellm's module objects: no full collection walks them again
    assert out["works"] is True
