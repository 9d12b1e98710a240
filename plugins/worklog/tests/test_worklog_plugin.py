"""The work log in process: the crew's ``worklog_search`` tool, routine runs and delegations,
several processes writing at once, ``--since``, and the metrics arithmetic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
from nanofolks_worklog import plugin as worklog_plugin
from nanofolks_worklog.metrics import UNKNOWN, compute, percentile, prometheus_lines
from nanofolks_worklog.query import parse_since
from nanofolks_worklog.recorder import record_llm_call
from nanofolks_worklog.store import WorkLog, database_path, worklog_for
from nanofolks_worklog.tool import worklog_search

from nanofolks_core.api import InboundMessage, LLMRequest, LLMResponse, Usage, UsageError
from nanofolks_core.testing.llm_server import Reply, ToolCall


def has_tool_result(request: dict) -> bool:
    return any(message["role"] == "tool" for message in request["messages"])


def test_the_crew_looks_up_what_it_did_on_the_landing_page(chat, llm_server, register_plugin):
    register_plugin(worklog_plugin, "worklog")
    llm_server.push(
        Reply(tool_calls=[ToolCall("write_file", {"path": "site/index.html", "content": "<h1>Landing page</h1>"})]),
        "The landing page is in site/index.html.",
    )
    assert "landing page" in chat("@coder build the landing page").text

    llm_server.push(Reply(tool_calls=[ToolCall("worklog_search", {"query": "landing page", "since": "7d"})]))
    llm_server.handler = lambda request: "Last week the coder built it." if has_tool_result(request) else None
    turn = chat("what did we do on the landing page last week?")
    assert turn.text == "Last week the coder built it."
    leader_tools = [tool["function"]["name"] for tool in llm_server.requests[2]["tools"]]
    assert "worklog_search" in leader_tools
    found = next(m for m in llm_server.requests[-1]["messages"] if m["role"] == "tool")["content"]
    assert "write_file" in found and "site/index.html" in found and "bot=coder" in found
    assert "artifact" in found  # the file it produced


def test_worklog_search_without_matches_and_with_a_room(tool_context, nanofolks_home):
    worklog_for(nanofolks_home).add("tool", room="website", bot="coder", name="write_file", outcome="ok",
                                    summary="write_file(path='index.html')")  # fmt: skip
    context = tool_context(plugin="worklog")
    assert "index.html" in worklog_search("INDEX.HTML", context)
    assert worklog_search("index.html", context, room="general").startswith("nothing in the work log")
    assert worklog_search("   ", context).startswith("error:")
    with pytest.raises(UsageError, match="7d"):
        worklog_search("index", context, since="yesterday-ish")


def test_routine_runs_and_delegations_are_logged_and_counted(chat, llm_server, register_plugin, nanofolks_home):
    register_plugin(worklog_plugin, "worklog")
    chat("hello")
    crew = chat.crew  # the crew the chat fixture built: a routine's message is a turn like any other
    llm_server.push(
        Reply(tool_calls=[ToolCall("delegate", {"to": "researcher", "task": "Find this week's open issues"})]),
        "Three issues are open.",
        "Summary: three open issues.",
    )
    inbound = InboundMessage(text="daily check-in", channel="routine", sender="routine", metadata={"routine": "daily"})
    asyncio.run(crew.handle(inbound))

    work = worklog_for(nanofolks_home)
    [delegation] = work.query(kinds=("delegation",))
    assert (delegation["bot"], delegation["name"], delegation["outcome"]) == ("leader", "researcher", "ok")
    assert "open issues" in delegation["summary"]
    tasks = work.query(kinds=("task",), newest_first=False)
    assert [t["outcome"] for t in tasks] == ["created", "done"] and tasks[0]["name"] == "t1"
    turn = work.query(kinds=("turn",), limit=1)[0]
    assert turn["routine"] == "daily" and turn["channel"] == "routine" and turn["bot"] == "leader,researcher"
    total = compute(work, since=None, by="day")["total"]
    assert total["messages"] == 2 and total["routine_runs"] == 1
    assert total["model_calls"] == len(llm_server.requests) == 4
    assert total["tool_calls"] == 1 and total["tool_failures"] == 0


WRITER = """
import sys
from nanofolks_worklog.store import WorkLog
log = WorkLog(sys.argv[1])
for number in range(int(sys.argv[2])):
    log.add("tool", room="general", bot=sys.argv[3], name="t", outcome="ok", summary=f"call {number}")
"""


def test_several_processes_write_at_once_and_nothing_is_lost(tmp_path):
    path = database_path(tmp_path)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), "150", f"bot{n}"], stderr=subprocess.PIPE)
        for n in range(4)
    ]
    errors = [proc.communicate(timeout=120)[1].decode() for proc in writers]
    assert [proc.returncode for proc in writers] == [0, 0, 0, 0], errors
    entries = WorkLog(path).query(limit=None)
    assert len(entries) == 600
    assert {e["bot"] for e in entries} == {"bot0", "bot1", "bot2", "bot3"}
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"


def test_since_reads_ages_dates_and_times():
    now = 1_800_000_000.0
    assert parse_since("7d", now=now) == now - 7 * 86400
    assert parse_since("12h", now=now) == now - 12 * 3600
    assert parse_since("2w", now=now) == now - 14 * 86400
    assert parse_since(None) is None and parse_since("") is None
    midnight = parse_since("2026-11-01")
    assert time.localtime(midnight)[:6] == (2026, 11, 1, 0, 0, 0)
    assert parse_since("2026-11-01T09:30+00:00") == datetime(2026, 11, 1, 9, 30, tzinfo=UTC).timestamp()
    for bad in ("last week", "7 parsecs", "2026-13-01"):
        with pytest.raises(UsageError, match="7d"):
            parse_since(bad)


def call(model: str, cost: float | None, *, bot: str = "leader", tier: str | None = None) -> None:
    metadata = {"room": "general", "bot": bot, **({"tier": tier} if tier else {})}
    request = LLMRequest(model=model, messages=(), metadata=metadata)
    record_llm_call(
        request, LLMResponse(content="x", model=model, usage=Usage(prompt_tokens=10, completion_tokens=5), cost=cost)
    )


def test_cost_is_what_was_reported_or_unknown_never_guessed(nanofolks_home):
    call("openrouter/cheap", 0.002, tier="simple")
    call("openrouter/cheap", 0.003, tier="simple")
    call("vllm/local", None, bot="coder")
    work = worklog_for(nanofolks_home)
    by_provider = {g["key"]: g for g in compute(work, since=None, by="provider")["groups"]}
    assert by_provider["openrouter"]["cost"] == 0.005 and by_provider["openrouter"]["tokens"] == 30
    assert by_provider["vllm"]["cost"] == UNKNOWN and by_provider["vllm"]["unpriced_calls"] == 1
    by_tier = {g["key"] for g in compute(work, since=None, by="tier")["groups"]}
    assert by_tier == {"simple", "-"}
    priced = compute(work, since=None, by="bot", price=lambda model, p, c: 0.01 if model == "vllm/local" else None)
    assert {g["key"]: g["cost"] for g in priced["groups"]} == {"leader": 0.005, "coder": 0.01}
    assert compute(work, since=time.time() + 60, by="day")["groups"] == []


def test_latency_percentiles_and_prometheus_lines(nanofolks_home):
    work = worklog_for(nanofolks_home)
    for seconds in (0.1, 0.2, 0.3, 0.4, 2.0):
        work.add("turn", room="general", bot="leader", channel="cli", outcome="ok", seconds=seconds)
    work.add("turn", room="ops", bot="leader", channel="routine", routine="daily", outcome="ok", seconds=0.5)
    call("vllm/local", None)
    total = compute(work, since=None, by="day")["total"]
    assert (total["latency_p50_ms"], total["latency_p95_ms"]) == (300.0, 2000.0)
    assert percentile([], 0.5) is None and percentile([5.0], 0.95) == 5.0
    lines = prometheus_lines(work)
    samples = dict(line.rsplit(" ", 1) for line in lines if not line.startswith("#"))
    assert samples['nanofolks_turns_total{room="general",channel="cli",routine="false"}'] == "5"
    assert samples['nanofolks_turns_total{room="ops",channel="routine",routine="true"}'] == "1"
    assert samples['nanofolks_model_calls_total{provider="vllm",tier="-"}'] == "1"
    assert samples['nanofolks_turn_latency_seconds{quantile="0.5"}'] == "0.3"
    assert samples["nanofolks_turn_latency_seconds_count"] == "6"
    assert json.dumps(lines)  # plain strings, one sample each


def test_tools_a_model_made_up_are_one_unknown_series(nanofolks_home):
    work = worklog_for(nanofolks_home)
    work.add("tool", room="general", bot="coder", name="write_file", outcome="ok", detail={"error": None})
    for invented in ("rm_rf_everything", "summon_dragon", "x" * 300):
        error = f"there is no tool named {invented!r} for you; your tools: read_file, write_file"
        work.add("tool", room="general", bot="coder", name=invented, outcome="error", detail={"error": error})
    work.add("delegation", room="general", bot="leader", name="wizard", outcome="error",
             detail={"error": "cannot delegate to 'wizard'; choose one of coder, researcher"})  # fmt: skip
    work.add("delegation", room="general", bot="leader", name="coder", outcome="ok", detail={"error": None})
    work.add("tool", room="general", bot="coder", name="write_file", outcome="error",
             detail={"error": "the workspace folder cannot be created"})  # fmt: skip
    samples = dict(
        line.rsplit(" ", 1) for line in prometheus_lines(work) if line.startswith("nanofolks_tool_calls_total{")
    )
    assert samples == {
        'nanofolks_tool_calls_total{tool="write_file",outcome="ok"}': "1",
        'nanofolks_tool_calls_total{tool="write_file",outcome="error"}': "1",
        'nanofolks_tool_calls_total{tool="coder",outcome="ok"}': "1",
        'nanofolks_tool_calls_total{tool="unknown",outcome="error"}': "4",
    }
    # The log itself keeps what the model asked for.
    assert {e["name"] for e in work.query(kinds=("tool",), limit=10)} >= {"summon_dragon", "rm_rf_everything"}
