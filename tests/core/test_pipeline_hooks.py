"""Pipeline-event hooks follow pluggy's conventions (order, firstresult, wrappers) with per-plugin isolation."""

from __future__ import annotations

import asyncio
import json
import types

import attrs
import pytest

from nanofolks_core.api import ChatMessage, InboundMessage, LLMCallDenied, LLMRequest, ToolCall, hookimpl
from nanofolks_core.plugins import ENABLED, FAILED, PluginHost, PluginLoadError, PluginRecord


def _host(tmp_path=None, **plugins) -> PluginHost:
    """A lenient host (switch-offs reported, not raised) with ``plugins`` registered in order."""
    host = PluginHost(strict=False, trace=False, data_root=tmp_path)
    for name, plugin in plugins.items():
        host.records[name] = PluginRecord(name=name, distribution=f"dist-{name}", version="1.0", module=name)
        host.register_module(plugin, name, record=host.records[name])
    host.build_registry()
    return host


def _request(text: str = "hello") -> LLMRequest:
    return LLMRequest(model="m", messages=(ChatMessage(role="user", content=text),))


def _suffix(tag: str, **marks):
    class Suffix:
        @hookimpl(**marks)
        def nanofolks_before_llm_call(self, request):
            message = request.messages[-1]
            return attrs.evolve(request, messages=(attrs.evolve(message, content=message.content + tag),))

    return Suffix()


def test_tryfirst_and_trylast_decide_the_chain_order():
    host = _host(late=_suffix("-late", trylast=True), plain=_suffix("-plain"), early=_suffix("-early", tryfirst=True))
    result = host.pipe("nanofolks_before_llm_call", "request", _request("x"))
    assert result.messages[-1].content == "x-early-plain-late"


def test_a_new_style_wrapper_observes_and_modifies_the_request_and_the_provider_gets_a_real_one():
    seen = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def nanofolks_before_llm_call(self, request):
            seen.append(("before", request.messages[-1].content))
            final = yield
            seen.append(("after", final.messages[-1].content))
            return attrs.evolve(final, metadata={**final.metadata, "wrapped": True})

    host = _host(wrapper=Wrapper(), inner=_suffix("-inner"))
    result = host.pipe("nanofolks_before_llm_call", "request", _request("hi"))
    assert isinstance(result, LLMRequest)
    assert result.messages[-1].content == "hi-inner" and result.metadata == {"wrapped": True}
    assert seen == [("before", "hi"), ("after", "hi-inner")]
    assert host.records["wrapper"].state == ENABLED


def test_an_observing_wrapper_that_returns_nothing_keeps_the_request():
    class Observer:
        @hookimpl(wrapper=True)
        def nanofolks_before_llm_call(self, request):
            yield

    host = _host(observer=Observer())
    request = _request()
    assert host.pipe("nanofolks_before_llm_call", "request", request) is request
    assert host.records["observer"].state == ENABLED


def test_an_old_style_hookwrapper_can_force_the_result():
    class Old:
        @hookimpl(hookwrapper=True)
        def nanofolks_before_llm_call(self, request):
            outcome = yield
            final = outcome.get_result()
            outcome.force_result(attrs.evolve(final, model="forced"))

    host = _host(old=Old(), inner=_suffix("!"))
    result = host.pipe("nanofolks_before_llm_call", "request", _request("a"))
    assert result.model == "forced" and result.messages[-1].content == "a!"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("return_junk", "returned a str, not a LLMRequest or None"),
        ("raise_after", "wrapper raised after its yield: RuntimeError: after"),
        ("raise_before", "wrapper raised before its yield: RuntimeError: before"),
        ("yield_twice", "wrapper yielded more than once"),
    ],
)
def test_a_broken_wrapper_is_switched_off_and_the_request_goes_on_intact(body, reason, tmp_path, capsys):
    class Broken:
        @hookimpl(wrapper=True)
        def nanofolks_before_llm_call(self, request):
            if body == "raise_before":
                raise RuntimeError("before")
            yield
            if body == "return_junk":
                return "not a request"
            if body == "raise_after":
                raise RuntimeError("after")
            yield

    host = _host(tmp_path, broken=Broken(), inner=_suffix("-ok"))
    result = host.pipe("nanofolks_before_llm_call", "request", _request("q"))
    assert isinstance(result, LLMRequest) and result.messages[-1].content == "q-ok"
    assert host.records["broken"].state == FAILED
    assert reason in host.records["broken"].reason
    assert host.records["inner"].state == ENABLED
    assert "warning: plugin broken was switched off" in capsys.readouterr().err
    # switched off for the rest of the process: the next call does not reach it
    assert host.pipe("nanofolks_before_llm_call", "request", _request("r")).messages[-1].content == "r-ok"


def test_a_raising_plain_hook_is_isolated_and_the_rest_of_the_chain_runs(tmp_path):
    class Raises:
        @hookimpl(tryfirst=True)
        def nanofolks_message_in(self, message):
            raise KeyError("oops")

    class Upper:
        @hookimpl
        def nanofolks_message_in(self, message):
            return attrs.evolve(message, text=message.text.upper())

    host = _host(tmp_path, raises=Raises(), upper=Upper())
    assert host.pipe("nanofolks_message_in", "message", InboundMessage(text="hi")).text == "HI"
    assert host.records["raises"].state == FAILED
    assert "nanofolks_message_in raised KeyError: 'oops'" in host.records["raises"].reason


def test_llm_call_denied_stops_the_call_and_passes_through_wrappers():
    seen = []

    class Deny:
        @hookimpl
        def nanofolks_before_llm_call(self, request):
            raise LLMCallDenied("over budget")

    class Wrapper:
        @hookimpl(wrapper=True)
        def nanofolks_before_llm_call(self, request):
            try:
                return (yield)
            except LLMCallDenied as exc:
                seen.append(str(exc))
                raise

    host = _host(deny=Deny(), wrapper=Wrapper())
    with pytest.raises(LLMCallDenied, match="over budget"):
        host.pipe("nanofolks_before_llm_call", "request", _request())
    assert seen == ["over budget"]
    assert host.records["deny"].state == ENABLED  # denying is not a failure


def test_a_wrapper_denying_before_its_yield_stops_the_call_and_stays_enabled():
    seen = []

    class DenyingWrapper:
        @hookimpl(wrapper=True)
        def nanofolks_before_llm_call(self, request):
            raise LLMCallDenied("blocked by policy")
            yield  # pragma: no cover - never reached

    class Outer:
        @hookimpl(wrapper=True, tryfirst=True)
        def nanofolks_before_llm_call(self, request):
            try:
                return (yield)
            except LLMCallDenied as exc:
                seen.append(str(exc))
                raise

    class Inner:
        @hookimpl
        def nanofolks_before_llm_call(self, request):
            seen.append("inner ran")

    host = _host(inner=Inner(), outer=Outer(), deny=DenyingWrapper())
    with pytest.raises(LLMCallDenied, match="blocked by policy"):
        host.pipe("nanofolks_before_llm_call", "request", _request())
    assert seen == ["blocked by policy"]  # the plain hook never ran; the started wrapper saw the denial
    assert host.records["deny"].state == ENABLED


def test_a_wrapper_with_a_bare_yield_keeps_another_plugins_deny_reason():
    class Deny:
        @hookimpl
        def nanofolks_tool_call_check(self, call, context):
            return "not allowed"

    class Careless:
        @hookimpl(wrapper=True)
        def nanofolks_tool_call_check(self, call, context):
            yield

    host = _host(deny=Deny(), careless=Careless())
    assert host.first("nanofolks_tool_call_check", call=ToolCall(id="1", name="x"), context={}) == "not allowed"


def test_firstresult_stops_at_the_first_answer_in_pluggy_order():
    calls = []

    def checker(name, answer, **marks):
        class Check:
            @hookimpl(**marks)
            def nanofolks_tool_call_check(self, call, context):
                calls.append(name)
                return answer

        return Check()

    host = _host(
        late=checker("late", "late says no", trylast=True),
        allow=checker("allow", None),
        early=checker("early", "early says no", tryfirst=True),
    )
    assert host.first("nanofolks_tool_call_check", call=ToolCall(id="1", name="x"), context={}) == "early says no"
    assert calls == ["early"]


def test_a_non_string_deny_reason_switches_the_checker_off():
    class Bad:
        @hookimpl(tryfirst=True)
        def nanofolks_tool_call_check(self, call, context):
            return True

    class Good:
        @hookimpl
        def nanofolks_tool_call_check(self, call, context):
            return "denied by good"

    host = _host(bad=Bad(), good=Good())
    assert host.first("nanofolks_tool_call_check", call=ToolCall(id="1", name="x"), context={}) == "denied by good"
    assert "returned a bool, not a str" in host.records["bad"].reason


@pytest.mark.parametrize(
    ("hooks", "reason"),
    [
        (
            {"nanofolks_before_llm_call": lambda request: (yield)},
            "nanofolks_before_llm_call is a generator function but not marked as a wrapper",
        ),
        ({"nanofolks_message_in": None}, "nanofolks_message_in is `async def`"),
        (
            {"nanofolks_register_teams": "wrapper"},
            "nanofolks_register_teams is marked as a wrapper; registration hooks",
        ),
    ],
)
def test_what_cannot_work_is_refused_at_load_with_the_reason(hooks, reason):
    async def async_hook(message):
        return None

    def wrapping_registration(register):
        yield

    namespace = {}
    for name, fn in hooks.items():
        if fn is None:
            namespace[name] = hookimpl(async_hook)
        elif fn == "wrapper":
            namespace[name] = hookimpl(wrapper=True)(wrapping_registration)
        else:
            namespace[name] = hookimpl(fn)
    host = _host(odd=types.SimpleNamespace(**namespace))
    assert host.records["odd"].state == FAILED
    assert reason in host.records["odd"].reason
    assert host.pm.get_plugin("odd") is None
    with pytest.raises(PluginLoadError, match="unsupported hook"):
        PluginHost(strict=True, trace=False).register_module(types.SimpleNamespace(**namespace), "odd")


def test_strict_mode_raises_the_hooks_exception():
    class Raises:
        @hookimpl
        def nanofolks_message_out(self, message):
            raise ValueError("strict")

    host = PluginHost(strict=True, trace=False)
    host.register_module(Raises(), "raises")
    with pytest.raises(ValueError, match="strict"):
        host.pipe("nanofolks_message_out", "message", InboundMessage(text="x"))


def test_a_wrapper_plugin_on_the_real_llm_path_sends_a_real_request(nanofolks_home, llm_server):
    """App -> LLMClient -> hook chain -> the test provider -> HTTP: the server sees the wrapped request."""
    from nanofolks_core.app import App
    from nanofolks_core.testing import provider as test_provider

    class Redactor:
        @hookimpl(wrapper=True)
        def nanofolks_before_llm_call(self, request):
            request = yield
            message = request.messages[-1]
            return attrs.evolve(request, messages=(attrs.evolve(message, content=message.content.replace("pw", "**")),))

    (nanofolks_home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "local/test-model"}},
                "providers": {"local": {"apiBase": llm_server.base_url}},
            }
        )
    )
    from nanofolks_core.builtins import core

    host = _host(None, **{"core": core, "test-provider": test_provider, "redactor": Redactor()})
    app = App(host=host)
    response = asyncio.run(app.llm.complete(attrs.evolve(_request("my pw is hunter2"), model="local/test-model")))
    assert response.content
    sent = llm_server.requests[-1]["messages"][-1]["content"]
    assert sent == "my ** is hunter2"
    assert host.records["redactor"].state == ENABLED
