"""Faults in a turn cost the user nothing (issue 8, rows 5, 6, 9, 14, 20, 21; issue 7, tools).

In process against a real local OpenAI-compatible server (FakeLLMServer), real SQLite and
session files on disk; the CLI tests run the real ``nanofolks`` in fresh processes through the
litellm provider.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat

import attrs
import pytest

from nanofolks_core.api import InboundMessage
from nanofolks_core.app import App
from nanofolks_core.builtins import core as core_plugin
from nanofolks_core.crew import Crew
from nanofolks_core.errors import NanofolksError
from nanofolks_core.pipeline import turn as turn_module
from nanofolks_core.testing import provider as test_provider
from nanofolks_core.testing.llm_server import Reply, ToolCall

ESCAPES = "\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQ=\x07\x1b[2J"


@pytest.fixture
def make_crew(nanofolks_home, plugin_host, register_plugin, llm_server):
    register_plugin(core_plugin, "core")
    register_plugin(test_provider, "test-provider")

    def make(defaults: dict | None = None, **sections) -> Crew:
        raw = {
            "agents": {"defaults": {"model": "local/test-model", **(defaults or {})}},
            "providers": {"local": {"apiBase": llm_server.base_url}},
            **sections,
        }
        (nanofolks_home / "config.json").write_text(json.dumps(raw))
        return Crew.from_app(App(host=plugin_host))

    return make


def ask(crew: Crew, text: str, room: str = "general"):
    return asyncio.run(crew.handle(InboundMessage(text=text, room=room)))


def sent_texts(request: dict) -> list[str]:
    return [m.get("content") or "" for m in request["messages"]]


# -- row 20: a message the crew could not answer ------------------------------------------------


def test_an_unanswered_message_is_not_stored_and_a_retry_is_seen_once(make_crew, llm_server):
    crew = make_crew()
    llm_server.fail_next(400, message="the provider is down")
    with pytest.raises(NanofolksError):
        ask(crew, "What is the plan?")
    assert crew.sessions.read("general") == []
    ask(crew, "What is the plan?")
    assert [(m.role, m.content) for m in crew.sessions.read("general")] == [
        ("user", "What is the plan?"),
        ("assistant", "[test-model] What is the plan?"),
    ]
    assert sent_texts(llm_server.requests[-1]).count("What is the plan?") == 1
    ask(crew, "And then?")
    assert sent_texts(llm_server.requests[-1]).count("What is the plan?") == 1  # history holds it once


# -- row 14: a message too long for the window -----------------------------------------------


def test_a_message_too_long_for_the_window_is_rejected_before_anything_is_stored(make_crew, llm_server):
    crew = make_crew({"contextWindow": 2048})
    recorded = []
    crew.memory.record = recorded.append
    with pytest.raises(NanofolksError) as caught:
        ask(crew, "@coder " + "word " * 24_000)  # 120 KB
    message = str(caught.value)
    assert "too long" in message and "2048-token window" in message and "Nothing was stored" in message
    assert "contextWindow" in message and "shorter" in message
    assert crew.sessions.read("general") == [] and recorded == [] and llm_server.requests == []
    assert tuple(crew.rooms.get("general").participants) == ("leader",)
    assert ask(crew, "short one").replies[0].text == "[test-model] short one"


# -- row 6: memory, router and tool-output store are never fatal --------------------------------


class _BrokenMemory:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def context(self, query, *, room, bot, budget_tokens):
        raise self.error

    def record(self, event):
        raise self.error

    def close(self):
        raise self.error


@pytest.mark.parametrize(
    "error",
    [RuntimeError("chroma: table collections already exists"), TypeError("tokenizer got str, bytes expected")],
)
def test_any_memory_failure_is_one_warning_and_the_crew_answers(make_crew, error):
    import sqlite3

    crew = make_crew()
    for broken in (error, sqlite3.DatabaseError("file is not a database")):
        crew.memory = _BrokenMemory(broken)
        result = ask(crew, "Hello")
        assert result.replies[0].text == "[test-model] Hello"
        memory_warnings = [w for w in result.warnings if w.startswith("memory unavailable")]
        assert len(memory_warnings) == 1 and str(broken) in memory_warnings[0]
    assert len(crew.sessions.read("general")) == 4  # both turns kept in the room's history
    asyncio.run(crew.aclose())  # a failing close does not stop the rest from closing


class _AppWithBrokenMemory(App):
    """An app whose memory backend cannot even be built (``memory/memory.db`` is garbage)."""

    @property
    def memory(self):
        import sqlite3

        raise sqlite3.DatabaseError("memory/memory.db: file is not a database")


def test_a_memory_backend_that_cannot_be_built_is_a_warning_not_a_failure(make_crew, plugin_host):
    make_crew()  # writes the config
    crew = Crew.from_app(_AppWithBrokenMemory(host=plugin_host))
    for text in ("Hello", "Again"):
        result = ask(crew, text)
        assert result.replies[0].text == f"[test-model] {text}"
        assert [w for w in result.warnings if "memory unavailable" in w] == [
            "memory unavailable for this message: memory/memory.db: file is not a database"
        ]
    assert len(crew.sessions.read("general")) == 4
    asyncio.run(crew.aclose())


def test_no_model_is_reported_before_memory_is_even_built(make_crew, plugin_host):
    from nanofolks_core.provider import ProviderNotConfigured

    make_crew({"model": ""})
    crew = Crew.from_app(_AppWithBrokenMemory(host=plugin_host))
    with pytest.raises(ProviderNotConfigured, match="nanofolks onboard"):
        ask(crew, "Hello")


class _BrokenRouter:
    async def route(self, text, *, room, default_model, ask):
        raise OSError("routing.db: disk I/O error")

    def record(self, request, response):
        raise OSError("routing.db: disk I/O error")

    def close(self):
        pass


def test_a_broken_router_falls_back_to_the_default_model(make_crew, llm_server):
    crew = make_crew()
    crew.router = _BrokenRouter()
    crew.services = attrs.evolve(crew.services, record_route=crew.router.record)
    result = ask(crew, "Hello")
    assert result.replies[0].text == "[test-model] Hello" and result.route is None
    assert any("router unavailable" in w and "disk I/O error" in w for w in result.warnings)
    assert llm_server.requests[-1]["model"] == "test-model"


def test_a_damaged_tool_output_store_does_not_stop_a_turn(make_crew, llm_server, nanofolks_home):
    (nanofolks_home / "tool_outputs.db").write_bytes(b"this is not an sqlite database" * 100)
    crew = make_crew()
    crew.workspace.mkdir(parents=True, exist_ok=True)
    (crew.workspace / "big.log").write_text("line of log output\n" * 2000)
    llm_server.push(Reply(tool_calls=[ToolCall("read_file", {"path": "big.log"})]), "read it")
    result = ask(crew, "@coder read big.log")
    assert result.replies[0].text == "read it"
    tool_message = llm_server.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["content"].startswith("line of log output")
    assert any("tool-output store unavailable" in w and "tool_outputs.db" in w for w in result.warnings)


def test_a_failing_summary_request_costs_a_warning_not_the_answer(make_crew, llm_server):
    crew = make_crew({"contextWindow": 2048, "maxTokens": 256})

    def handler(request):
        if request["messages"][0]["content"].startswith("You write faithful"):
            return Reply(status=400, error="summaries are switched off here")
        return "noted"

    llm_server.handler = handler
    lines = [f"Part {i}: " + " ".join(f"pier-{i}-{j}" for j in range(60)) for i in range(10)]
    results = [ask(crew, line) for line in lines]
    assert all(r.replies[0].text == "noted" for r in results)
    assert any(any("could not compact" in w for w in r.warnings) for r in results)
    assert [m.content for m in crew.sessions.read("general") if m.role == "user"] == lines


def test_an_empty_summary_is_not_stored_and_costs_a_warning(make_crew, llm_server):
    crew = make_crew({"contextWindow": 2048, "maxTokens": 256})

    def handler(request):
        if request["messages"][0]["content"].startswith("You write faithful"):
            return "   "
        return "noted"

    llm_server.handler = handler
    lines = [f"Part {i}: " + " ".join(f"pier-{i}-{j}" for j in range(60)) for i in range(10)]
    results = [ask(crew, line) for line in lines]
    assert all(r.replies[0].text == "noted" for r in results)
    assert any(any("no text" in w for w in r.warnings) for r in results)
    assert not [m for m in crew.sessions.read("general") if m.meta.get("summary")]


# -- rows 5 and 9: text in, text out -----------------------------------------------------------


def test_model_escape_sequences_never_reach_a_reply_or_the_history(make_crew, llm_server):
    crew = make_crew()
    llm_server.push(f"{ESCAPES}Hello\r\nthere\x07")
    result = ask(crew, "hi")
    stored = crew.sessions.read("general")[-1].content
    for text in (result.replies[0].text, stored):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
        assert "Hello\nthere" in text


def test_a_lone_surrogate_in_a_message_is_stored_as_replacement_and_later_turns_work(make_crew, llm_server):
    crew = make_crew()
    ask(crew, "caf\udce9 au lait")
    ask(crew, "next")
    stored = [m.content for m in crew.sessions.read("general") if m.role == "user"]
    assert stored == ["caf\ufffd au lait", "next"]
    assert "caf\ufffd au lait" in sent_texts(llm_server.requests[-1])


# -- tools in a turn (issue 7, item 2) ----------------------------------------------------------


def word_count(text: str) -> int:
    return len(text.split())


def boom() -> str:
    raise KeyError("missing-thing")


class _Unprintable(Exception):
    def __str__(self):
        raise ValueError("even the message is broken")


def unprintable() -> str:
    raise _Unprintable()


def _add_tools(crew: Crew, services) -> None:
    """Plugin tools as the crew holds them: bound tools offered to every bot."""
    from nanofolks_core.api import ToolSpec
    from nanofolks_core.tools.runtime import BoundTool

    for function, parameters in (
        (word_count, {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        (boom, {"type": "object", "properties": {}}),
        (unprintable, {"type": "object", "properties": {}}),
    ):
        spec = ToolSpec(name=function.__name__, summary="test tool", factory=f"test_tools:{function.__name__}")
        crew.tools[spec.name] = BoundTool(
            spec=spec,
            description=f"{spec.name} for the test",
            parameters=parameters,
            invoke=lambda arguments, context, function=function: function(**arguments),
            services=services,
        )


def test_a_tool_that_raises_anything_is_an_error_result_and_the_turn_goes_on(make_crew, llm_server, plugin_services):
    crew = make_crew()
    _add_tools(crew, plugin_services())
    llm_server.push(
        Reply(tool_calls=[ToolCall("boom", {}), ToolCall("unprintable", {}), ToolCall("word_count", {"text": "a b"})]),
        "done anyway",
    )
    result = ask(crew, "try the tools")
    assert result.replies[0].text == "done anyway"
    results = [m["content"] for m in llm_server.requests[1]["messages"] if m["role"] == "tool"]
    assert results == [
        "error: KeyError: 'missing-thing'",
        "error: _Unprintable: (the error message could not be read)",
        "2",
    ]


def test_the_system_prompt_lists_exactly_the_tools_offered(make_crew, llm_server, plugin_services):
    crew = make_crew()
    _add_tools(crew, plugin_services())
    ask(crew, "@coder hello")
    ask(crew, "@social hello")
    for request in llm_server.requests:
        prompt = request["messages"][0]["content"]
        listed = prompt.split("Tools: ", 1)[1].split(".\n", 1)[0].split(", ")
        offered = sorted(tool["function"]["name"] for tool in request.get("tools", []))
        assert sorted(listed) == offered
        assert "word_count" in listed  # a plugin tool offered to every bot
        for missing in ("memory_search", "web_search", "run_shell"):
            assert missing not in prompt


def test_the_leader_prompt_offers_delegate_and_a_delegated_bot_does_not(make_crew, llm_server):
    def handler(request):
        if "## Your brief from the Leader" in request["messages"][0]["content"]:
            return "found it"
        if request["messages"][-1]["role"] == "tool":
            return "all done"
        return Reply(tool_calls=[ToolCall("delegate", {"to": "researcher", "task": "find it"})])

    llm_server.handler = handler
    ask(make_crew(), "find something")
    leader, researcher = llm_server.requests[0], llm_server.requests[1]
    assert "delegate" in [t["function"]["name"] for t in leader["tools"]]
    assert "delegate" in leader["messages"][0]["content"].split("Tools: ")[1].split(".")[0]
    assert "delegate" not in [t["function"]["name"] for t in researcher.get("tools", [])]


def test_the_workspace_exists_owner_only_before_a_tool_runs(make_crew, llm_server):
    crew = make_crew()
    assert not crew.workspace.exists()
    llm_server.push(Reply(tool_calls=[ToolCall("list_files", {})]), "listed")
    ask(crew, "what files are there?")
    tool_result = llm_server.requests[1]["messages"][-1]["content"]
    assert "Errno" not in tool_result and "No such file" not in tool_result
    assert stat.S_IMODE(os.stat(crew.workspace).st_mode) == 0o700


def test_the_system_prompt_is_composed_once_per_bot_per_turn(make_crew, llm_server, monkeypatch):
    calls = []
    real = turn_module.compose_identity
    monkeypatch.setattr(turn_module, "compose_identity", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    crew = make_crew()
    crew.rooms.invite("general", "coder")
    ask(crew, "@all hello")
    assert sorted(calls) == ["coder", "leader"]


# -- the same, as a user meets it: the real CLI in fresh processes ----------------------------


def _cli(args: list[str], home, *, stdin: str | None = None):
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    environ["NANOFOLKS_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


@pytest.fixture
def cli_home(tmp_path, llm_server):
    pytest.importorskip("nanofolks_provider_litellm")
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model", "contextWindow": 2048, "maxTokens": 256}},
        "providers": {"vllm": {"apiBase": llm_server.base_url}},
    }
    (home / "config.json").write_text(json.dumps(config))
    return home


def _history(home) -> list[dict]:
    run = _cli(["room", "history", "general", "--limit", "0", "--json"], home)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    return data["messages"] if isinstance(data, dict) else data


def test_cli_compaction_in_a_small_window_keeps_every_message_in_room_history(cli_home, llm_server):
    """Row 21: 12 messages into a 2,048-token window: summaries are added, nothing is removed."""

    def handler(request):
        if request["messages"][0]["content"].startswith("You write faithful"):
            return "- the user described the harbour project in twelve parts"
        return "noted"

    llm_server.handler = handler
    lines = [f"Part {i}: " + " ".join(f"harbour-{i}-{j}" for j in range(60)) for i in range(12)]
    run = _cli(["chat", "--no-stream"], cli_home, stdin="\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    summaries = [r for r in llm_server.requests if r["messages"][0]["content"].startswith("You write faithful")]
    assert summaries, "the window should have forced at least one compaction"
    history = _history(cli_home)
    assert [m["content"] for m in history if m["role"] == "user"] == lines
    assert sum(1 for m in history if m["role"] == "assistant") == 12
    marks = [m for m in history if m["meta"].get("summary")]
    assert marks and all(m["role"] == "system" and m["meta"]["covers"] > 0 for m in marks)
    ids = [m["id"] for m in history]
    assert all(ids.index(m["meta"]["until"]) < ids.index(m["id"]) for m in marks)  # stored after what it covers
    for request in llm_server.requests:
        assert sum(len(m.get("content") or "") for m in request["messages"]) // 4 < 2048


def test_cli_a_failed_message_is_not_stored_and_a_retry_shows_once(cli_home, llm_server):
    """Row 20: the provider fails, the user sends the same message again."""
    llm_server.fail_next(400, message="model is loading")
    failed = _cli(["chat", "-m", "hello there"], cli_home)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert _history(cli_home) == []
    again = _cli(["chat", "-m", "hello there"], cli_home)
    assert again.returncode == 0, again.stderr
    history = _history(cli_home)
    assert [m["content"] for m in history if m["role"] == "user"] == ["hello there"]


def test_cli_a_message_too_long_for_the_window_exits_non_zero_and_stores_nothing(cli_home, llm_server):
    """Row 14: a 120 KB message for a 2,048-token window."""
    run = _cli(["chat", "-m", "word " * 24_000], cli_home)
    assert run.returncode != 0
    assert "too long" in run.stderr and "2048" in run.stderr and "Traceback" not in run.stderr
    assert llm_server.requests == [] and _history(cli_home) == []
