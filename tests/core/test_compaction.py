"""Context that never overflows: warnings, compaction, tool-chain safety, large tool outputs."""

from __future__ import annotations

import asyncio
import json

import pytest

from nanofolks_core.api import InboundMessage
from nanofolks_core.app import App
from nanofolks_core.builtins import core as core_plugin
from nanofolks_core.crew import Crew
from nanofolks_core.messages import ChatMessage, ToolCall
from nanofolks_core.pipeline.window import trim_to
from nanofolks_core.testing import provider as test_provider
from nanofolks_core.testing.llm_server import Reply
from nanofolks_core.testing.llm_server import ToolCall as ServerToolCall
from nanofolks_core.tokens import estimate_tokens

WINDOW = 8192


@pytest.fixture
def make_crew(nanofolks_home, plugin_host, register_plugin, llm_server):
    register_plugin(core_plugin, "core")
    register_plugin(test_provider, "test-provider")

    def make(compaction: dict | None = None) -> Crew:
        raw = {
            "agents": {"defaults": {"model": "local/test-model", "contextWindow": WINDOW, "maxTokens": 1024}},
            "providers": {"local": {"apiBase": llm_server.base_url}},
            "compaction": compaction or {},
        }
        (nanofolks_home / "config.json").write_text(json.dumps(raw))
        return Crew.from_app(App(host=plugin_host))

    return make


def request_tokens(request: dict) -> int:
    messages = [ChatMessage(role=m["role"], content=m.get("content") or "") for m in request["messages"]]
    return estimate_tokens(messages)


def ask(crew, text, room="general"):
    return asyncio.run(crew.handle(InboundMessage(text=text, room=room)))


def long_message(i: int) -> str:
    return f"Turn {i}: " + " ".join(f"detail-{i}-{j} about the harbour project" for j in range(40))


def summarizing_server(llm_server):
    def handler(request):
        if request["messages"][0]["content"].startswith("You write faithful"):
            return "- the user is planning a harbour project with many details"
        return None  # default echo reply

    llm_server.handler = handler


def test_300_turns_never_exceed_the_window_and_get_summarized(make_crew, llm_server):
    summarizing_server(llm_server)
    crew = make_crew()
    warned = 0
    for i in range(300):
        result = ask(crew, long_message(i))
        warned += any("full" in w for w in result.warnings)
    sizes = [request_tokens(r) for r in llm_server.requests]
    assert max(sizes) <= WINDOW, f"a request carried {max(sizes)} tokens"
    summaries = [r for r in llm_server.requests if r["messages"][0]["content"].startswith("You write faithful")]
    assert len(summaries) >= 5
    stored = crew.sessions.read("general")
    # The room keeps every message; summaries are appended checkpoints the model's view starts from.
    assert [m.content for m in stored if m.role == "user"] == [long_message(i) for i in range(300)]
    assert sum(1 for m in stored if m.role == "assistant") == 300
    marks = [m for m in stored if m.meta.get("summary")]
    assert 5 <= len(marks) <= len(summaries) and all(m.role == "system" for m in marks)
    assert marks[-1].meta["covers"] > marks[0].meta["covers"] > 0
    last_sent = llm_server.requests[-1]["messages"]
    assert len(last_sent) < 120  # older turns were folded into the summary, for the model only
    last = llm_server.requests[-1]["messages"][0]["content"]
    assert "## Earlier in this room (summary)" in last and "harbour project" in last
    assert warned > 0


def test_token_limit_mode_keeps_recent_turns_without_summaries(make_crew, llm_server):
    crew = make_crew({"mode": "token-limit"})
    for i in range(80):
        ask(crew, long_message(i))
    assert max(request_tokens(r) for r in llm_server.requests) <= WINDOW
    assert len(llm_server.requests) == 80  # no extra summary requests
    assert len(crew.sessions.read("general")) == 160  # nothing rewritten
    assert long_message(79) in json.dumps(llm_server.requests[-1])
    assert long_message(0) not in json.dumps(llm_server.requests[-1])


def test_off_mode_still_never_sends_over_the_window(make_crew, llm_server):
    crew = make_crew({"mode": "off"})
    for i in range(60):
        ask(crew, long_message(i))
    assert max(request_tokens(r) for r in llm_server.requests) <= WINDOW
    assert len(llm_server.requests) == 60


def test_warning_at_seventy_percent(make_crew, llm_server):
    crew = make_crew({"mode": "off", "warnAt": 0.05})
    result = ask(crew, "Hello")
    assert any(w.startswith("context is") and "full" in w for w in result.warnings)


def test_trim_never_separates_a_tool_call_from_its_result():
    def msg(role, content="x" * 400, **kw):
        return ChatMessage(role=role, content=content, **kw)

    call = ToolCall(id="c1", name="read_file", arguments={"path": "a"})
    messages = [
        msg("system", "sys"),
        msg("user"),
        msg("assistant"),
        msg("user"),
        msg("assistant", "", tool_calls=[call]),
        msg("tool", tool_call_id="c1"),
        msg("assistant"),
        msg("user", "now"),
    ]
    for limit in range(20, 700, 20):
        trimmed = trim_to(messages, estimate_tokens, limit)
        ids_called = {c.id for m in trimmed for c in m.tool_calls}
        ids_answered = {m.tool_call_id for m in trimmed if m.role == "tool"}
        assert ids_called == ids_answered, f"split tool chain at limit {limit}"
        assert trimmed[0].content == "sys" and trimmed[-1].content == "now"


def test_large_tool_output_is_stored_and_referenced(make_crew, llm_server, nanofolks_home):
    crew = make_crew()
    (crew.workspace).mkdir(parents=True, exist_ok=True)
    (crew.workspace / "big.log").write_text("line of log output\n" * 2000)  # ~38 KB
    llm_server.push(Reply(tool_calls=[ServerToolCall("read_file", {"path": "big.log"})]), "done")
    ask(crew, "@coder read big.log")
    tool_message = llm_server.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert len(tool_message["content"].encode()) < 10 * 1024
    assert "stored as tool-output:" in tool_message["content"]
    ref = tool_message["content"].split("tool-output:")[1].split(";")[0]
    assert crew.tool_outputs.get(ref) == "line of log output\n" * 2000


def test_session_compact_on_demand(make_crew, llm_server):
    summarizing_server(llm_server)
    crew = make_crew()
    for i in range(20):
        ask(crew, long_message(i))
    folded, before, after = asyncio.run(crew.compact_room("general"))
    assert folded > 0 and after < before
    stored = crew.sessions.read("general")
    assert [m.content for m in stored if m.role == "user"] == [long_message(i) for i in range(20)]  # all kept
    summary = stored[-1]
    assert summary.role == "system" and summary.meta["summary"] is True
    covered = [m for m in stored[:-1] if not m.meta.get("summary")][: summary.meta["covers"]]
    assert covered[-1].id == summary.meta["until"]


def test_shrinking_the_window_summarizes_every_folded_message(make_crew, llm_server, nanofolks_home):
    """Regression: with a much smaller window, older turns that did not fit one summary request
    were dropped unsummarized. Every folded message must reach some summary request."""
    summarizing_server(llm_server)
    crew = make_crew()
    for i in range(40):
        ask(crew, long_message(i))
    config = json.loads((nanofolks_home / "config.json").read_text())
    # Well under what the 40 turns left in view (at 4000 the outcome hung on a few prompt tokens).
    config["agents"]["defaults"]["contextWindow"] = 3500
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    small = Crew.from_app(App(host=crew.host))
    before = len(llm_server.requests)
    ask(small, "and one more thing")
    is_summary = [r["messages"][0]["content"].startswith("You write faithful") for r in llm_server.requests]
    assert sum(is_summary[before:]) >= 2  # the smaller window took several chunks
    summary_requests = [r for r, flag in zip(llm_server.requests, is_summary) if flag]
    summarized = "".join(r["messages"][1]["content"] for r in summary_requests)
    stored = small.sessions.read("general")
    kept = {m.content for m in stored}
    for i in range(40):
        assert f"Turn {i}:" in summarized or long_message(i) in kept, f"turn {i} vanished"
    assert max(request_tokens(r) for r in llm_server.requests[before:]) <= 4000
