"""The loader and registry, in process, with plugins registered through the testing kit."""

from __future__ import annotations

import types

import attrs
import pytest

from nanofolks_core.api import (
    ChannelSpec,
    CommandSpec,
    ConfigSectionSpec,
    InboundMessage,
    LLMRequest,
    LLMResponse,
    MemoryBackendSpec,
    OutboundMessage,
    ProviderSpec,
    RouterSpec,
    SecretPatternSpec,
    SecretStoreSpec,
    SessionStoreSpec,
    SkillScannerSpec,
    SkillSpec,
    TeamSpec,
    TierSpec,
    ToolCall,
    ToolSpec,
    hookimpl,
)
from nanofolks_core.plugins import (
    DISABLED_CONFIG,
    DISABLED_ENV,
    ENABLED,
    FAILED,
    INCOMPATIBLE,
    PluginHost,
    PluginLoadError,
    decide_state,
)


def plugin(**hooks):
    module = types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})
    return module


@pytest.mark.parametrize(
    ("name", "config_disabled", "env", "state"),
    [
        ("a", [], {}, ENABLED),
        ("a", ["a"], {}, DISABLED_CONFIG),
        ("a", [], {"NANOFOLKS_DISABLE_PLUGINS": "b, a"}, DISABLED_ENV),
        ("a", [], {"NANOFOLKS_LOAD_PLUGINS": "b"}, DISABLED_ENV),
        ("a", ["a"], {"NANOFOLKS_LOAD_PLUGINS": "a"}, ENABLED),  # env beats config
        ("a", [], {"NANOFOLKS_LOAD_PLUGINS": "a", "NANOFOLKS_DISABLE_PLUGINS": "a"}, DISABLED_ENV),
        ("core", ["core"], {"NANOFOLKS_DISABLE_PLUGINS": "core"}, ENABLED),  # essential
    ],
)
def test_precedence_table(name, config_disabled, env, state):
    assert decide_state(name, config_disabled, env)[0] == state


def test_specs_land_in_the_registry_with_their_owner(register_plugin):
    registry = register_plugin(
        plugin(
            nanofolks_register_channels=lambda register: register(
                ChannelSpec(name="echo", summary="Echoes", factory="pkg.mod:Echo")
            )
        ),
        "echo-plugin",
    )
    assert registry.get("channel", "echo").summary == "Echoes"
    assert registry.owner("channel", "echo") == "echo-plugin"
    assert registry.by_plugin("echo-plugin") == {"channel": ["echo"]}


def test_a_raising_registration_hook_fails_only_its_plugin():
    host = PluginHost(strict=False, trace=False)

    def bad(register):
        register(ChannelSpec(name="half", factory="a.b:C"))
        raise RuntimeError("boom")

    for name, module in {
        "bad": plugin(nanofolks_register_channels=bad),
        "good": plugin(nanofolks_register_channels=lambda register: register(ChannelSpec(name="ok", factory="a.b:C"))),
    }.items():
        host.records[name] = __import__("nanofolks_core.plugins", fromlist=["PluginRecord"]).PluginRecord(
            name=name, distribution=name, version="1", module=name
        )
        host.register_module(module, name, record=host.records[name])
    registry = host.build_registry()
    assert registry.names("channel") == ["ok"]
    assert host.records["bad"].state == FAILED
    assert "RuntimeError: boom" in host.records["bad"].reason
    assert host.records["good"].state == ENABLED
    assert host.pm.get_plugin("bad") is None  # its pipeline hooks will not run either


def test_wrong_record_type_is_a_failure_with_a_clear_reason(plugin_host, register_plugin):
    with pytest.raises(PluginLoadError, match="nanofolks_register_channels takes ChannelSpec records, got str"):
        register_plugin(plugin(nanofolks_register_channels=lambda register: register("telegram")), "typo")


def test_strict_mode_raises_on_incompatible_api(plugin_host):
    module = types.SimpleNamespace(NANOFOLKS_API="2.0")
    with pytest.raises(PluginLoadError, match="needs plugin API 2.0"):
        plugin_host.register_module(module, "future")


def test_incompatible_api_is_reported_not_loaded():
    host = PluginHost(strict=False, trace=False)
    record = host.register_module(types.SimpleNamespace(NANOFOLKS_API="1.9"), "future")
    assert record.state == INCOMPATIBLE
    assert "this nanofolks provides 1.0" in record.reason


def test_unknown_hook_name_is_rejected(plugin_host):
    with pytest.raises(PluginLoadError, match="unknown hook.s. nanofolks_register_chanels"):
        plugin_host.register_module(plugin(nanofolks_register_chanels=lambda register: None), "misspelt")


def test_names_are_unique_the_builtin_or_first_registered_keeps_a_name():
    from nanofolks_core.plugins import PluginRecord

    host = PluginHost(strict=False, trace=False)
    for name, builtin, summary in [("one", False, "first"), ("two", False, "second"), ("core", True, "builtin")]:
        host.records[name] = PluginRecord(name=name, distribution=name, version="1", module=name, builtin=builtin)
        host.register_module(
            plugin(
                nanofolks_register_channels=lambda register, s=summary: register(
                    ChannelSpec(name="terminal", summary=s, factory="a.b:C")
                ),
                nanofolks_register_teams=lambda register, s=summary: register(
                    TeamSpec(name=f"team-{s}" if s != "second" else "team-first", resource="a:b.toml")
                ),
            ),
            name,
            record=host.records[name],
        )
    registry = host.build_registry()
    assert registry.get("channel", "terminal").summary == "builtin"  # registered last, but built-in
    assert registry.owner("team", "team-first") == "one"
    messages = [str(c) for c in registry.conflicts]
    assert (
        "channel 'terminal' is registered by both core and one: core's is used (built-in), one's is ignored; "
        "a plugin cannot replace a built-in by name" in messages
    )
    assert (
        "team 'team-first' is registered by both one and two: one's is used (registered first), two's is ignored; "
        "to use two's, disable one (`nanofolks plugins disable one`)" in messages
    )
    # the plugin that lost every name still shows what it offers, and the clash
    assert host.records["two"].kinds == ["channel", "team"]
    assert host.records["two"].contributions == {}
    assert any("team 'team-first'" in clash for clash in host.records["two"].clashes)


def test_config_sections_come_from_specs(register_plugin):
    @attrs.define
    class EchoConfig:
        loud: bool = False

    registry = register_plugin(
        plugin(
            nanofolks_register_channels=lambda register: register(
                ChannelSpec(name="echo", factory="a.b:C", config_class=EchoConfig)
            ),
            nanofolks_register_config_sections=lambda register: register(
                ConfigSectionSpec(path="echoing", config_class=EchoConfig)
            ),
        ),
        "echo",
    )
    assert registry.config_sections() == {"channels.echo": EchoConfig, "echoing": EchoConfig}


def test_pipeline_event_hooks_are_called(register_plugin, plugin_host):
    calls = []

    class Tracer:
        @hookimpl
        def nanofolks_message_in(self, message):
            calls.append(("in", message.text))
            return attrs.evolve(message, text=message.text.upper())

        @hookimpl
        def nanofolks_message_out(self, message):
            calls.append(("out", message.bot))

        @hookimpl
        def nanofolks_before_llm_call(self, request):
            calls.append(("before", request.model))

        @hookimpl
        def nanofolks_after_llm_call(self, request, response):
            calls.append(("after", response.content))

        @hookimpl
        def nanofolks_tool_call_check(self, call, context):
            return "no shell for you" if call.name == "run_shell" else None

    register_plugin(Tracer(), "tracer")
    hook = plugin_host.pm.hook
    assert [m.text for m in hook.nanofolks_message_in(message=InboundMessage(text="hi"))] == ["HI"]
    hook.nanofolks_message_out(message=OutboundMessage(text="yo", bot="coder"))
    request = LLMRequest(model="m", messages=())
    hook.nanofolks_before_llm_call(request=request)
    hook.nanofolks_after_llm_call(request=request, response=LLMResponse(content="done"))
    assert hook.nanofolks_tool_call_check(call=ToolCall(id="1", name="run_shell"), context={}) == "no shell for you"
    assert hook.nanofolks_tool_call_check(call=ToolCall(id="2", name="read_file"), context={}) is None
    assert calls == [("in", "hi"), ("out", "coder"), ("before", "m"), ("after", "done")]


def test_trace_prints_hook_calls(capsys):
    host = PluginHost(strict=True, trace=True)
    host.register_module(
        plugin(nanofolks_register_secret_patterns=lambda register: register(SecretPatternSpec(name="x", pattern="x+"))),
        "traced",
    )
    host.build_registry()
    host.pm.hook.nanofolks_message_out(message=OutboundMessage(text="t", bot="leader"))
    err = capsys.readouterr().err
    assert "nanofolks_register_secret_patterns [plugin: traced]" in err
    assert "nanofolks_message_out" in err


EVERY_KIND = {
    "nanofolks_register_channels": ChannelSpec(name="k", factory="a.b:C"),
    "nanofolks_register_providers": ProviderSpec(name="k", factory="a.b:C"),
    "nanofolks_register_memory_backends": MemoryBackendSpec(name="k", factory="a.b:C"),
    "nanofolks_register_session_stores": SessionStoreSpec(name="k", factory="a.b:C"),
    "nanofolks_register_router_tiers": TierSpec(name="k", rank=3),
    "nanofolks_register_routers": RouterSpec(name="k", factory="a.b:C"),
    "nanofolks_register_teams": TeamSpec(name="k", resource="a:b.toml"),
    "nanofolks_register_skills": SkillSpec(name="k", resource="a:b"),
    "nanofolks_register_skill_scanners": SkillScannerSpec(name="k", factory="a.b:C"),
    "nanofolks_register_secret_stores": SecretStoreSpec(name="k", factory="a.b:C"),
    "nanofolks_register_secret_patterns": SecretPatternSpec(name="k", pattern="k+"),
    "nanofolks_register_tools": ToolSpec(name="k", factory="a.b:C"),
    "nanofolks_register_commands": CommandSpec(name="k", factory="a.b:C"),
    "nanofolks_register_config_sections": ConfigSectionSpec(path="k", config_class=attrs.make_class("K", [])),
}


@pytest.mark.parametrize("hook_name", sorted(EVERY_KIND))
def test_every_registration_hook_reaches_the_registry(hook_name, register_plugin):
    spec = EVERY_KIND[hook_name]
    registry = register_plugin(plugin(**{hook_name: lambda register: register(spec)}), "every")
    assert registry.get(spec.kind, spec.name) is spec
    assert registry.owner(spec.kind, spec.name) == "every"
