"""The runtime contracts: Services, one way to build every runtime, and what reaches each runtime."""

from __future__ import annotations

import json
import stat
import sys
import types

import attrs
import pytest

from nanofolks_core.api import (
    MemoryBackend,
    MemoryBackendSpec,
    Provider,
    Router,
    RouterSpec,
    SecretStoreSpec,
    SecretUnavailable,
    Services,
    SessionStore,
    ToolSpec,
    hookimpl,
)
from nanofolks_core.testing.llm_server import Reply, ToolCall

MODULE = "nanofolks_test_contracts_plugin"


# -- Services -------------------------------------------------------------------------------------


def test_secret_resolves_inline_env_and_store_references(tmp_path, monkeypatch):
    services = Services(plugin="p", data_root=tmp_path, secret_lookup={"openrouter": "from-store"}.get)
    monkeypatch.setenv("NF_TEST_KEY", "from-env")
    assert services.secret("sk-inline") == "sk-inline"
    assert services.secret("env:NF_TEST_KEY") == "from-env"
    assert services.secret("keyring:openrouter") == "from-store"
    monkeypatch.delenv("NF_TEST_KEY")
    with pytest.raises(SecretUnavailable, match="environment variable NF_TEST_KEY is not set; export it"):
        services.secret("env:NF_TEST_KEY")
    with pytest.raises(SecretUnavailable, match=r"no secret named 'other'.*nanofolks secrets set other"):
        services.secret("keyring:other")


def test_data_dir_is_the_plugins_own_private_folder(tmp_path):
    services = Services(plugin="my-plugin", data_root=tmp_path)
    assert services.log.name == "nanofolks.my-plugin"
    assert not (tmp_path / "plugins").exists()  # created on first use only
    folder = services.data_dir
    assert folder == tmp_path / "plugins" / "my-plugin"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_core_runtimes_satisfy_their_protocols(tmp_path):
    from nanofolks_core.builtins.core import file_session_store
    from nanofolks_core.memory import NullMemory
    from nanofolks_core.testing.provider import LocalHTTPProvider, LocalProviderConfig

    services = Services(plugin="core", data_root=tmp_path)
    assert isinstance(NullMemory(spec=None, config=None, services=services), MemoryBackend)
    assert isinstance(file_session_store(spec=None, config=None, services=services), SessionStore)
    provider = LocalHTTPProvider(
        spec=None, config=LocalProviderConfig(api_base="http://127.0.0.1:9"), services=services
    )
    assert isinstance(provider, Provider)


# -- a plugin contributing one runtime of each kind, built by the core ----------------------------


@attrs.define
class CounterConfig:
    factor: int = 1


@attrs.define
class RouterConfig:
    model: str | None = None


class Counter:
    description = "Add step x factor to a running total."
    parameters = {"type": "object", "properties": {"step": {"type": "integer"}}}

    def __init__(self, *, spec, config, services):
        self.factor = config.factor
        self.total = 0

    async def run(self, arguments, context):
        self.total += arguments.get("step", 1) * self.factor
        return {"total": self.total}


def fragile(reason: str) -> str:
    """Fails every time.

    Args:
        reason: why it fails
    """
    raise KeyError(reason)


class DictStore:
    """A secret store holding one secret, as a keyring plugin would."""

    def __init__(self, *, spec, config, services):
        self.values = {"llm": "s3cret-from-store"}

    def available(self):
        return True

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        self.values[name] = value

    def delete(self, name):
        return self.values.pop(name, None) is not None

    def names(self):
        return sorted(self.values)


class FixedRouter:
    """Routes every message to its section's model and remembers what it was built with."""

    built_with: dict = {}

    def __init__(self, *, spec, config, services):
        FixedRouter.built_with = {"config": config, "services": services}
        self.model = config.model

    async def route(self, text, *, room, default_model, ask):
        from nanofolks_core.api import RouteDecision

        return RouteDecision(tier="fixed", model=self.model, confidence=1.0, layer=1) if self.model else None

    def record(self, request, response):
        pass

    def close(self):
        pass


class Recorder:
    """A memory backend that keeps what it was built with."""

    def __init__(self, *, spec, config, services):
        self.services = services
        self.events = []

    def record(self, event):
        self.events.append(event)

    async def context(self, query, *, room, bot, budget_tokens):
        return ""

    def search(self, query, *, limit=10, room=None):
        return []

    def forget(self, *, entry_id=None, room=None):
        return 0

    def status(self):
        return {"backend": "recorder"}

    def flush(self):
        pass

    def close(self):
        pass


class ContractsPlugin:
    @hookimpl
    def nanofolks_register_tools(self, register):
        register(ToolSpec(name="counter", factory=f"{MODULE}:Counter", config_class=CounterConfig))
        register(ToolSpec(name="fragile", factory=f"{MODULE}:fragile", roles=("leader",)))

    @hookimpl
    def nanofolks_register_secret_stores(self, register):
        register(SecretStoreSpec(name="dict", factory=f"{MODULE}:DictStore", priority=10))

    @hookimpl
    def nanofolks_register_routers(self, register):
        register(RouterSpec(name="fixed", factory=f"{MODULE}:FixedRouter", config_class=RouterConfig))

    @hookimpl
    def nanofolks_register_memory_backends(self, register):
        register(MemoryBackendSpec(name="recorder", factory=f"{MODULE}:Recorder"))


@pytest.fixture
def contracts_plugin(register_plugin):
    module = types.ModuleType(MODULE)
    for obj in (Counter, fragile, DictStore, FixedRouter, Recorder):
        setattr(module, obj.__name__, obj)
    sys.modules[MODULE] = module
    register_plugin(ContractsPlugin(), "contracts-test")
    yield
    sys.modules.pop(MODULE, None)


def tool_messages(request: dict) -> list[str]:
    return [m["content"] for m in request["messages"] if m["role"] == "tool"]


def test_keyring_secrets_tool_config_and_the_router_section_reach_their_runtimes(contracts_plugin, chat, llm_server):
    llm_server.api_key = "s3cret-from-store"  # the provider must send the key held by the secret store
    chat.configure(
        {
            "providers": {"local": {"apiKey": "keyring:llm"}},
            "tools": {"counter": {"factor": 7}},
            "routing": {"model": "local/routed-model"},
            "memory": {"backend": "recorder"},
        }
    )
    llm_server.push(
        Reply(tool_calls=[ToolCall("counter", {"step": 2})]),
        Reply(tool_calls=[ToolCall("fragile", {"reason": "no disk"})]),
        "All done.",
    )
    turn = chat("count for me")
    assert turn.text == "All done."
    first, second, third = llm_server.requests
    assert first["model"] == "routed-model"  # the router was built with its own section
    assert json.loads(tool_messages(second)[0]) == {"total": 14}  # factor 7 from tools.counter
    assert tool_messages(third)[-1] == "error: KeyError: 'no disk'"  # a raising tool is a result, not a crash
    assert isinstance(chat.crew.router, Router)
    built = FixedRouter.built_with
    assert isinstance(built["config"], RouterConfig) and built["services"].plugin == "contracts-test"
    memory = chat.crew.memory
    assert memory.services.plugin == "contracts-test" and memory.services.llm is not None
    assert [e.role for e in memory.events] == ["user", "assistant"]


def test_a_secret_missing_from_the_stores_is_a_clear_error(contracts_plugin, chat, llm_server):
    chat.configure({"providers": {"local": {"apiKey": "keyring:nowhere"}}})
    with pytest.raises(SecretUnavailable, match=r"no secret named 'nowhere'.*nanofolks secrets set nowhere"):
        chat("hello")
    assert llm_server.requests == []


def test_keyring_without_any_secret_store_says_to_install_one(chat, llm_server):
    chat.configure({"providers": {"local": {"apiKey": "keyring:llm"}}})
    with pytest.raises(SecretUnavailable, match=r"keyring:llm needs a secret store, but none is installed"):
        chat("hello")
    assert llm_server.requests == []


def test_a_tool_with_empty_roles_fails_its_plugin_at_load_with_the_reason():
    from nanofolks_core.plugins import PluginHost

    class NoRoles:
        @hookimpl
        def nanofolks_register_tools(self, register):
            register(ToolSpec(name="hidden", factory="json:dumps", roles=()))

    host = PluginHost(strict=False, trace=False)
    record = host.register_module(NoRoles(), "no-roles")
    registry = host.build_registry()
    assert registry.get("tool", "hidden") is None
    assert record.state == "failed"
    assert "roles is empty, so no bot would be offered it" in record.reason


def test_a_tool_that_cannot_be_built_is_left_out_with_a_warning(register_plugin, chat, llm_server):
    class Broken:
        @hookimpl
        def nanofolks_register_tools(self, register):
            register(ToolSpec(name="ghost", factory="nanofolks_no_such_module:tool"))

    register_plugin(Broken(), "broken-tool")
    llm_server.push("Hi there.")
    turn = chat("hello")
    assert turn.text == "Hi there."
    # `nanofolks chat` prints the crew's warnings when it starts
    assert any("tool ghost (broken-tool) is unavailable: ModuleNotFoundError" in w for w in chat.crew.warnings)
    offered = [tool["function"]["name"] for tool in llm_server.requests[0].get("tools", [])]
    assert "ghost" not in offered and "read_file" in offered
