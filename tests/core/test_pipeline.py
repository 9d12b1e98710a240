"""The whole pipeline in process, against a real local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json

import attrs
import pytest

from nanofolks_core.api import InboundMessage, hookimpl
from nanofolks_core.app import App
from nanofolks_core.builtins import core as core_plugin
from nanofolks_core.crew import Crew
from nanofolks_core.provider import ProviderNotConfigured
from nanofolks_core.testing import provider as test_provider
from nanofolks_core.testing.llm_server import Reply, ToolCall


@pytest.fixture
def make_crew(nanofolks_home, plugin_host, register_plugin, llm_server):
    register_plugin(core_plugin, "core")
    register_plugin(test_provider, "test-provider")

    def make(config: dict | None = None) -> Crew:
        raw = {
            "agents": {"defaults": {"model": "local/test-model"}},
            "providers": {"local": {"apiBase": llm_server.base_url}},
        }
        for key, value in (config or {}).items():
            raw[key] = value
        (nanofolks_home / "config.json").write_text(json.dumps(raw))
        return Crew.from_app(App(host=plugin_host))

    return make


def ask(crew: Crew, text: str, room: str = "general"):
    return asyncio.run(crew.handle(InboundMessage(text=text, room=room)))


def system_of(request: dict) -> str:
    return request["messages"][0]["content"]


def test_plain_message_is_answered_by_the_leader_with_one_request(make_crew, llm_server):
    result = ask(make_crew(), "Hello")
    assert [r.bot for r in result.replies] == ["leader"]
    assert result.replies[0].text == "[test-model] Hello"
    assert len(llm_server.requests) == 1
    assert "Leader" in system_of(llm_server.requests[0])


def test_mention_goes_to_that_bot_with_its_role(make_crew, llm_server, nanofolks_home):
    crew = make_crew()
    result = ask(crew, "@coder fix this bug")
    assert [r.bot for r in result.replies] == ["coder"]
    assert len(llm_server.requests) == 1
    prompt = system_of(llm_server.requests[0])
    assert "Coder" in prompt and "Leader" not in prompt.split("## Also in the room")[0].split("\n")[0]
    assert "coder" in crew.rooms.get("general").participants  # mentioned bots join the room


def test_all_gets_every_bot_in_the_room_concurrently(make_crew, llm_server):
    crew = make_crew()
    crew.rooms.invite("general", "researcher", "coder", "social", "creative", "auditor")
    llm_server.handler = lambda request: Reply(content="idea", delay=0.3)
    result = ask(crew, "@all brainstorm names for a cat cafe")
    assert [r.bot for r in result.replies] == ["leader", "researcher", "coder", "social", "creative", "auditor"]
    assert len({r.name for r in result.replies}) == 6
    assert len(llm_server.requests) == 6
    assert result.timings["collect"] < 6 * 300, "bots should answer concurrently"


def test_history_is_shared_and_sent_on_the_next_turn(make_crew, llm_server):
    crew = make_crew()
    ask(crew, "@researcher find data on renewable energy")
    ask(crew, "@creative use that data for an infographic")
    messages = llm_server.requests[1]["messages"]
    texts = [m["content"] for m in messages]
    assert "@researcher find data on renewable energy" in texts
    assert any("Researcher" in t and "[test-model] @researcher find data" in t for t in texts)
    assert messages[-1]["content"] == "@creative use that data for an infographic"


def test_leader_delegates_within_the_turn_and_a_room_task_records_it(make_crew, llm_server):
    def handler(request):
        system = system_of(request)
        if "## Your brief from the Leader" in system:
            return "Solar grew 30% last year."
        if request["messages"][-1]["role"] == "tool":
            return "Summary: solar is booming."
        return Reply(tool_calls=[ToolCall("delegate", {"to": "researcher", "task": "Find solar growth figures"})])

    llm_server.handler = handler
    crew = make_crew()
    result = ask(crew, "How is solar doing?")
    assert [(r.bot, r.delegated_by) for r in result.replies] == [("researcher", "leader"), ("leader", None)]
    assert result.replies[-1].text == "Summary: solar is booming."
    tool_message = llm_server.requests[-1]["messages"][-1]
    assert tool_message["role"] == "tool" and "Solar grew 30%" in tool_message["content"]
    [task] = crew.rooms.tasks("general")
    assert (task.owner, str(task.status)) == ("researcher", "done")


def test_tool_loop_is_bounded(make_crew, llm_server):
    llm_server.handler = lambda request: (
        Reply(tool_calls=[ToolCall("read_file", {"path": "notes.txt"})]) if request.get("tools") else "gave up"
    )
    crew = make_crew({"agents": {"defaults": {"model": "local/test-model", "maxToolIterations": 3}}})
    result = ask(crew, "@coder read notes.txt forever")
    assert len(llm_server.requests) == 4  # 3 tool rounds, then one final request without tools
    assert "tools" not in llm_server.requests[-1]
    assert result.replies[0].text == "gave up"


def test_tool_call_check_can_deny(make_crew, llm_server, register_plugin):
    class Guard:
        @hookimpl
        def nanofolks_tool_call_check(self, call, context):
            return "writing is switched off" if call.name == "write_file" else None

    register_plugin(Guard(), "guard")
    llm_server.push(Reply(tool_calls=[ToolCall("write_file", {"path": "x.txt", "content": "hi"})]), "ok")
    crew = make_crew()
    ask(crew, "@coder write x.txt")
    assert llm_server.requests[1]["messages"][-1]["content"] == "denied: writing is switched off"
    assert not (crew.workspace / "x.txt").exists()


def test_secrets_never_reach_the_model_or_the_history(make_crew, llm_server, nanofolks_home):
    key = "sk-or-v1-" + "a1b2c3d4" * 6
    crew = make_crew()
    ask(crew, f"My API key is {key}")
    assert key not in json.dumps(llm_server.requests)
    assert "sk-or-v1-a1***" in llm_server.requests[0]["messages"][-1]["content"]
    stored = "".join(p.read_text() for p in (nanofolks_home / "sessions").rglob("*.json"))
    assert key not in stored


def test_message_hooks_can_rewrite(make_crew, llm_server, register_plugin):
    class Polite:
        @hookimpl
        def nanofolks_message_in(self, message):
            return attrs.evolve(message, text=message.text + " please")

        @hookimpl
        def nanofolks_message_out(self, message):
            return attrs.evolve(message, text=message.text.upper())

    register_plugin(Polite(), "polite")
    result = ask(make_crew(), "hi")
    assert llm_server.requests[0]["messages"][-1]["content"] == "hi please"
    assert result.replies[0].text == "[TEST-MODEL] HI PLEASE"


def test_one_failing_bot_does_not_sink_the_others(make_crew, llm_server):
    crew = make_crew()
    crew.rooms.invite("general", "coder")
    llm_server.fail_next(400, message="bad request for one bot")
    result = ask(crew, "@all status?")
    errors = [r for r in result.replies if r.error]
    assert len(result.replies) == 2 and len(errors) == 1


def test_no_model_fails_before_anything_is_stored(make_crew, nanofolks_home):
    crew = make_crew({"agents": {"defaults": {}}})
    with pytest.raises(ProviderNotConfigured, match="nanofolks onboard"):
        ask(crew, "Hello")
    assert crew.sessions.read("general") == []


def _host_with(*plugins, strict=False):
    from nanofolks_core.plugins import PluginHost

    host = PluginHost(strict=strict, trace=False)
    for name, module in [("core", core_plugin), ("test-provider", test_provider), *plugins]:
        host.register_module(module, name)
    host.build_registry()
    return host


class _BrokenOut:
    @hookimpl
    def nanofolks_message_out(self, message):
        raise RuntimeError("out hook broke")


def test_a_raising_event_hook_is_switched_off_and_the_reply_still_arrives(nanofolks_home, llm_server, capfd):
    host = _host_with(("broken-out", _BrokenOut()))
    (nanofolks_home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "local/test-model"}},
                "providers": {"local": {"apiBase": llm_server.base_url}},
            }
        )
    )
    crew = Crew.from_app(App(host=host))
    result = ask(crew, "Hello")
    assert result.replies[0].text == "[test-model] Hello"
    assert [m.role for m in crew.sessions.read("general")] == ["user", "assistant"]
    assert host.records["broken-out"].state == "failed"
    assert "out hook broke" in host.records["broken-out"].reason
    assert "plugin broken-out was switched off" in capfd.readouterr().err
    ask(crew, "Again")  # switched off: it is not called again
    assert len(crew.sessions.read("general")) == 4


def test_strict_mode_lets_a_raising_event_hook_fail_the_turn(nanofolks_home, llm_server):
    host = _host_with(("broken-out", _BrokenOut()), strict=True)
    (nanofolks_home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "local/test-model"}},
                "providers": {"local": {"apiBase": llm_server.base_url}},
            }
        )
    )
    with pytest.raises(RuntimeError, match="out hook broke"):
        ask(Crew.from_app(App(host=host)), "Hello")


@pytest.mark.parametrize(
    ("config", "env", "expected"),
    [
        ({}, None, True),
        ({"storage": {"use_cas_storage": False}}, None, False),
        ({}, "false", False),
        ({"storage": {"useCasStorage": False}}, "true", True),
    ],
)
def test_cas_setting_reaches_the_session_store(nanofolks_home, monkeypatch, config, env, expected):
    if env is not None:
        monkeypatch.setenv("NANOFOLKS_USE_CAS_STORAGE", env)
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    assert App(host=_host_with()).sessions.use_cas is expected


class _DownMemory:
    """A memory backend whose server is unreachable: context() fails with a user-facing error."""

    def __init__(self, **_kwargs):
        self.recorded = []

    def record(self, event):
        self.recorded.append(event)

    async def context(self, query, *, room, bot, budget_tokens):
        from nanofolks_core.errors import NanofolksError

        raise NanofolksError("cannot reach the Chroma server at 127.0.0.1:9")

    def close(self):
        pass


def test_an_unreachable_memory_does_not_stop_the_crew(make_crew, llm_server):
    crew = make_crew()
    crew.memory = _DownMemory()
    result = ask(crew, "Hello")
    assert result.replies[0].text == "[test-model] Hello"
    assert any("memory unavailable" in w and "Chroma server" in w for w in result.warnings)
    assert [e.role for e in crew.memory.recorded] == ["user", "assistant"]


def test_who_wrote_a_chat_app_message_reaches_memory_and_the_history(make_crew, llm_server):
    crew = make_crew()
    crew.memory = _DownMemory()
    asyncio.run(crew.handle(InboundMessage(text="Hi all", channel="telegram", sender="4242", chat_id="-1",
                                           metadata={"sender_name": "Ada", "aliases": ["ada"]})))  # fmt: skip
    ask(crew, "And from the terminal")
    user_events = [e for e in crew.memory.recorded if e.role == "user"]
    assert [e.sender for e in user_events] == ["Ada", None]  # the terminal's anonymous "user" is nobody
    assert all(e.sender is None for e in crew.memory.recorded if e.role == "assistant")
    stored = crew.sessions.read("general")[0]
    assert stored.meta == {"sender": "4242", "sender_name": "Ada"}
