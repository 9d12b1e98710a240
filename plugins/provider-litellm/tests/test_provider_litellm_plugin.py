"""Registration, config and configuration errors: everything that must work without litellm.

Checks that need a pristine interpreter (what got imported) run in a fresh subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nanofolks_provider_litellm import plugin
from nanofolks_provider_litellm.config import ProviderConfig

from nanofolks_core.testing import ConfigError, build_config, config_to_dict

EXPECTED = {
    "openrouter": (("OPENROUTER_API_KEY",), ("openrouter/",)),
    "anthropic": (("ANTHROPIC_API_KEY",), ("anthropic/",)),
    "openai": (("OPENAI_API_KEY",), ("openai/",)),
    "deepseek": (("DEEPSEEK_API_KEY",), ("deepseek/",)),
    "groq": (("GROQ_API_KEY",), ("groq/",)),
    "gemini": (("GEMINI_API_KEY", "GOOGLE_API_KEY"), ("gemini/",)),
    "vllm": (("VLLM_API_KEY",), ("vllm/",)),
}
KEY_VARIABLES = sorted({var for env_keys, _ in EXPECTED.values() for var in env_keys})


def run_python(code: str, tmp_path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with no provider keys and only this plugin loaded."""
    environ = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES and not k.startswith("NANOFOLKS_")}
    environ.update(NANOFOLKS_HOME=str(tmp_path / "home"), NANOFOLKS_LOAD_PLUGINS="provider-litellm")
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-W", "default", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        cwd=tmp_path,
    )


def test_discovery_registers_seven_providers_without_importing_litellm(tmp_path):
    proc = run_python(
        """
        import json, sys
        from nanofolks_core.api import App
        app = App()
        registry = app.registry
        config = app.config  # structures every providers.<name> section too
        rows = {spec.name: [list(spec.env_keys), list(spec.model_prefixes), spec.factory,
                            registry.owner("provider", spec.name), type(config.section(spec.config_section())).__name__]
                for spec in registry.all("provider")}
        heavy = sorted(m for m in ("litellm", "tiktoken", "openai") if m in sys.modules)
        print(json.dumps({"rows": rows, "heavy": heavy}))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["heavy"] == []
    rows = result["rows"]
    assert sorted(rows) == sorted(EXPECTED)
    for name, (env_keys, prefixes) in EXPECTED.items():
        assert rows[name] == [list(env_keys), list(prefixes), plugin.FACTORY, "provider-litellm", "ProviderConfig"]


def test_the_distribution_declares_its_entry_point_and_kind():
    from importlib.metadata import distribution

    dist = distribution("nanofolks-provider-litellm")
    (entry,) = [ep for ep in dist.entry_points if ep.group == "nanofolks.plugins"]
    assert (entry.name, entry.value) == ("provider-litellm", "nanofolks_provider_litellm.plugin")
    assert {"nanofolks", "provider"} <= set(dist.metadata["Keywords"].split(","))


def _load_config(raw: dict, register_plugin, tmp_path: Path):
    registry = register_plugin(plugin, "provider-litellm")
    return build_config(raw, tmp_path / "config.json", registry.config_sections()).config


def test_provider_sections_read_camel_case_keys_and_secret_references(register_plugin, tmp_path):
    config = _load_config(
        {
            "agents": {"defaults": {"model": "vllm/my-model"}},
            "providers": {
                "vllm": {"apiBase": "http://127.0.0.1:8000/v1"},
                "openrouter": {
                    "apiKey": "env:OPENROUTER_API_KEY",
                    "maxRetries": 5,
                    "timeout": 20,
                    "extraHeaders": {"X-Title": "nanofolks"},
                },
                "openai": {"api_key": "sk-inline-secret-value"},
            },
        },
        register_plugin,
        tmp_path,
    )
    vllm = config.section("providers.vllm")
    assert vllm == ProviderConfig(api_base="http://127.0.0.1:8000/v1")
    openrouter = config.section("providers.openrouter")
    assert (openrouter.api_key.source, openrouter.api_key.ref) == ("env", "OPENROUTER_API_KEY")
    assert (openrouter.max_retries, openrouter.timeout, openrouter.extra_headers) == (5, 20.0, {"X-Title": "nanofolks"})
    # Sections not in the file still get the defaults.
    assert config.section("providers.groq") == ProviderConfig()
    shown = json.dumps(config_to_dict(config))
    assert "sk-inline-secret-value" not in shown
    assert "env:OPENROUTER_API_KEY" in shown


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"apiBse": "http://x"}, "providers.vllm.apiBse: unknown key (did you mean 'apiBase'?)"),
        ({"apiBase": "localhost:8000"}, "providers.vllm: apiBase must be an http:// or https:// URL"),
        ({"apiBase": "http://"}, "providers.vllm: apiBase must be an http:// or https:// URL"),
        ({"timeout": 0}, "providers.vllm: timeout must be above 0, got 0"),
        ({"maxRetries": -1}, "providers.vllm: maxRetries must be from 0 to 20, got -1"),
        ({"apiKey": 42}, "providers.vllm.apiKey"),
    ],
)
def test_invalid_provider_settings_name_the_key(section, problem, register_plugin, tmp_path):
    with pytest.raises(ConfigError) as info:
        _load_config({"providers": {"vllm": section}}, register_plugin, tmp_path)
    assert problem in str(info.value)


def test_missing_key_or_api_base_fails_fast_without_importing_litellm(tmp_path):
    proc = run_python(
        """
        import asyncio, json, sys, time
        from nanofolks_core.api import ChatMessage, LLMRequest, Secret
        from nanofolks_core.api import App
        from nanofolks_core.api import ProviderNotConfigured
        from nanofolks_provider_litellm.config import ProviderConfig

        app = App()
        messages = (ChatMessage(role="user", content="hi"),)
        results = {}
        cases = [("openrouter", "openrouter/anthropic/claude-sonnet-4", app.config.section("providers.openrouter")),
                 ("vllm", "vllm/my-model", app.config.section("providers.vllm")),
                 ("groq", "groq/llama-3.3-70b", ProviderConfig(api_key=Secret.parse("env:MY_UNSET_GROQ_KEY")))]
        for name, model, section in cases:
            spec = app.registry.get("provider", name)
            provider = spec.load()(spec=spec, config=section)
            started = time.perf_counter()
            try:
                asyncio.run(provider.complete(LLMRequest(model=model, messages=messages)))
            except ProviderNotConfigured as exc:
                results[name] = [str(exc), exc.exit_code, time.perf_counter() - started]
        print(json.dumps({"results": results, "litellm": "litellm" in sys.modules, "openai": "openai" in sys.modules}))
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["litellm"] is False and out["openai"] is False
    config_file = str(tmp_path / "home" / "config.json")
    message, exit_code, seconds = out["results"]["openrouter"]
    assert message == (
        "no API key for openrouter: export OPENROUTER_API_KEY, or set providers.openrouter.apiKey "
        f'(e.g. "apiKey": "env:OPENROUTER_API_KEY") in {config_file}, or run `nanofolks onboard`'
    )
    assert exit_code == 2 and seconds < 0.5
    message, _, seconds = out["results"]["vllm"]
    assert message == (
        f"providers.vllm.apiBase is not set; point it at your server, e.g. http://127.0.0.1:8000/v1 (in {config_file})"
    )
    assert seconds < 0.5
    message, _, _ = out["results"]["groq"]
    assert message.startswith("providers.groq.apiKey cannot be read: environment variable MY_UNSET_GROQ_KEY is not set")


def test_key_lookup_order_config_then_environment_variables(monkeypatch):
    from nanofolks_provider_litellm.provider import LiteLLMProvider

    from nanofolks_core.api import ProviderSpec, Secret, Services

    for variable in KEY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    gemini = ProviderSpec(name="gemini", factory=plugin.FACTORY, env_keys=("GEMINI_API_KEY", "GOOGLE_API_KEY"))
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert LiteLLMProvider(spec=gemini).resolve_api_key().source == "GOOGLE_API_KEY"
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    assert LiteLLMProvider(spec=gemini).resolve_api_key().value == "gemini-key"
    configured = LiteLLMProvider(
        spec=gemini,
        config=ProviderConfig(api_key=Secret.parse("keyring:gemini")),
        services=Services(
            plugin="provider-litellm", data_root="/nonexistent", secret_lookup={"gemini": "from-the-store"}.get
        ),
    )
    key = configured.resolve_api_key()
    assert (key.value, key.source) == ("from-the-store", "providers.gemini.apiKey = keyring:gemini")


@pytest.mark.parametrize(
    ("name", "model", "expected"),
    [
        ("vllm", "vllm/my-model", "openai/my-model"),
        ("vllm", "vllm/Qwen/Qwen2.5-7B-Instruct", "openai/Qwen/Qwen2.5-7B-Instruct"),
        ("openrouter", "openrouter/anthropic/claude-sonnet-4", "openrouter/anthropic/claude-sonnet-4"),
        ("anthropic", "anthropic/claude-sonnet-4-20250514", "anthropic/claude-sonnet-4-20250514"),
        ("gemini", "gemini/gemini-2.5-pro", "gemini/gemini-2.5-pro"),
        ("openai", "gpt-4o", "openai/gpt-4o"),
    ],
)
def test_model_names_map_to_litellm_routes(name, model, expected):
    from nanofolks_provider_litellm.provider import LiteLLMProvider

    from nanofolks_core.api import ProviderSpec

    provider = LiteLLMProvider(spec=ProviderSpec(name=name, factory=plugin.FACTORY))
    assert provider.litellm_model(model) == expected


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ('{"city": "Paris"}', {"city": "Paris"}),
        ("", {}),
        (None, {}),
        ('{"city": "Par', {"_raw_arguments": '{"city": "Par'}),  # a model cut off mid-JSON
        ('["not", "an", "object"]', {"_raw_arguments": '["not", "an", "object"]'}),
    ],
)
def test_tool_arguments_that_are_not_a_json_object_are_kept_raw(raw, parsed):
    from nanofolks_provider_litellm.convert import RAW_ARGUMENTS_KEY, parse_arguments

    assert RAW_ARGUMENTS_KEY == "_raw_arguments"
    assert parse_arguments(raw) == parsed
