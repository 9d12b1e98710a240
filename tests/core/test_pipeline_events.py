"""What the crew reports after the fact (work logs, metrics) and how room tasks carry the work:
the notification hooks, a delegated task that fails or times out, the Leader's view of open
tasks and its ``hand_over_task`` tool. The whole pipeline, against a real local server."""

from __future__ import annotations

import asyncio
import json
import random
import string
import types

import pytest

from nanofolks_core.api import InboundMessage, hookimpl
from nanofolks_core.app import App
from nanofolks_core.builtins import core as core_plugin
from nanofolks_core.crew import Crew
from nanofolks_core.testing import provider as test_provider
from nanofolks_core.testing.llm_server import Reply, ToolCall

ALNUM = string.ascii_letters + string.digits
LEAKED_KEY = "sk-ant-api03-" + "".join(random.Random(3).choice(ALNUM) for _ in range(93)) + "AA"


def recorder() -> types.ModuleType:
    """A plugin that keeps every notification it gets."""
    module = types.ModuleType("recorder")
    module.events = []

    @hookimpl
    def nanofolks_turn_done(inbound, result):
        module.events.append(("turn", inbound, result))

    @hookimpl
    def nanofolks_tool_done(call, bot, room, outcome, error, seconds):
        module.events.append(("tool", call, bot, room, outcome, error, seconds))

    @hookimpl
    def nanofolks_task_changed(room, task, event):
        module.events.append(("task", room, task, event))

    module.nanofolks_turn_done = nanofolks_turn_done
    module.nanofolks_tool_done = nanofolks_tool_done
    module.nanofolks_task_changed = nanofolks_task_changed
    return module


@pytest.fixture
def make_crew(nanofolks_home, plugin_host, register_plugin, llm_server):
    register_plugin(core_plugin, "core")
    register_plugin(test_provider, "test-provider")

    def make(defaults: dict | None = None) -> Crew:
        raw = {
            "agents": {"defaults": {"model": "local/test-model", **(defaults or {})}},
            "providers": {"local": {"apiBase": llm_server.base_url}},
        }
        (nanofolks_home / "config.json").write_text(json.dumps(raw))
        return Crew.from_app(App(host=plugin_host))

    return make


def ask(crew: Crew, text: str, **fields):
    return asyncio.run(crew.handle(InboundMessage(text=text, **fields)))


def has_tool_result(request: dict) -> bool:
    return any(message["role"] == "tool" for message in request["messages"])


def test_turn_and_tool_notifications_carry_what_happened_with_credentials_as_references(
    make_crew, llm_server, register_plugin
):
    plugin = recorder()
    register_plugin(plugin, "recorder")
    crew = make_crew()
    arguments = {"path": "notes/key.txt", "content": f"the key is {LEAKED_KEY}"}
    llm_server.push(Reply(tool_calls=[ToolCall("write_file", arguments)]), "Saved.")
    result = ask(crew, "@coder save my notes", metadata={"routine": "daily-notes"})

    [tool] = [e for e in plugin.events if e[0] == "tool"]
    _, call, bot, room, outcome, error, seconds = tool
    assert (call.name, bot, room, outcome, error) == ("write_file", "coder", "general", "ok", None)
    assert call.arguments["path"] == "notes/key.txt"
    assert LEAKED_KEY not in json.dumps(call.arguments) and "sk-ant" in call.arguments["content"]
    assert 0 <= seconds < 5
    [turn] = [e for e in plugin.events if e[0] == "turn"]
    assert turn[2] is result and turn[1].metadata == {"routine": "daily-notes"}
    assert turn[1].text == "@coder save my notes"
    assert [e[0] for e in plugin.events] == ["tool", "turn"]  # the turn is reported once stored


def test_failed_and_denied_tool_calls_are_reported_as_such(make_crew, llm_server, register_plugin):
    plugin = recorder()
    guard = types.ModuleType("guard")
    guard.nanofolks_tool_call_check = hookimpl(
        lambda call, context: "no listing today" if call.name == "list_files" else None
    )
    register_plugin(plugin, "recorder")
    register_plugin(guard, "guard")
    crew = make_crew()
    llm_server.push(
        Reply(tool_calls=[ToolCall("read_file", {"path": "missing.txt"}), ToolCall("list_files", {})]), "Done."
    )
    ask(crew, "read missing.txt")
    outcomes = {e[1].name: (e[4], e[5]) for e in plugin.events if e[0] == "tool"}
    assert outcomes["list_files"] == ("denied", "no listing today")
    assert outcomes["read_file"][0] == "error" and "missing.txt" in outcomes["read_file"][1]


def test_a_plugin_raising_in_a_notification_never_breaks_the_turn(make_crew, llm_server, register_plugin, plugin_host):
    broken = types.ModuleType("broken")
    broken.nanofolks_turn_done = hookimpl(lambda inbound, result: 1 / 0)
    broken.nanofolks_tool_done = hookimpl(lambda call: [][1])
    register_plugin(broken, "broken")
    plugin = recorder()
    register_plugin(plugin, "recorder")
    crew = make_crew()
    plugin_host.strict = False  # as in a user's process: a broken plugin is switched off, not raised
    llm_server.push(Reply(tool_calls=[ToolCall("list_files", {})]), "Here they are.")
    result = ask(crew, "what files do we have")
    assert result.replies[0].text == "Here they are."
    assert plugin_host.records["broken"].state == "failed"
    assert [e[0] for e in plugin.events] == ["tool", "turn"]  # the other plugin still hears everything
    assert crew.sessions.read("general")[-1].content == "Here they are."


def delegate_then_answer(brief: str = "Draft the launch post"):
    """The Leader delegates to the social bot, then sums up once it has the tool result."""

    def answer(request: dict) -> Reply | str | None:
        system = request["messages"][0]["content"]
        if "delegate" in json.dumps(request.get("tools", [])) and not has_tool_result(request):
            return Reply(tool_calls=[ToolCall("delegate", {"to": "social", "task": brief})])
        if has_tool_result(request):
            return "Summed up: " + request["messages"][-1]["content"][:60]
        return "post drafted" if "Social" in system else None

    return answer


def test_a_delegation_that_fails_marks_its_task_failed_with_the_reason(make_crew, llm_server, register_plugin):
    plugin = recorder()
    register_plugin(plugin, "recorder")
    crew = make_crew()
    llm_server.push(
        Reply(tool_calls=[ToolCall("delegate", {"to": "social", "task": "Draft the launch post"})]),
        Reply(status=500, error="overloaded"),  # the social bot's model call fails
        "The social bot could not do it; I will try later.",
    )
    result = ask(crew, "announce the launch")

    [task] = crew.rooms.tasks("general")
    assert task.status.value == "failed" and task.owner == "social"
    reason = task.history[-1].reason
    assert reason.startswith("social could not finish:") and "500" in reason
    assert result.replies[-1].text == "The social bot could not do it; I will try later."
    tool_result = next(m for m in llm_server.requests[-1]["messages"] if m["role"] == "tool")
    assert tool_result["content"].startswith("error: social could not finish")
    assert [(e[3], e[2].status.value) for e in plugin.events if e[0] == "task"] == [
        ("created", "in_progress"),
        ("failed", "failed"),
    ]
    [delegation] = [e for e in plugin.events if e[0] == "tool"]
    assert delegation[1].name == "delegate" and delegation[4] == "error"


def test_a_delegation_that_times_out_says_so(make_crew, llm_server):
    crew = make_crew({"delegationTimeout": 0.5})
    llm_server.push(
        Reply(tool_calls=[ToolCall("delegate", {"to": "social", "task": "Draft the launch post"})]),
        Reply(content="too late", delay=3),  # the social bot's model call does not answer in time
        "Social is slow today; I will follow up.",
    )
    result = ask(crew, "announce the launch")
    [task] = crew.rooms.tasks("general")
    assert task.status.value == "failed"
    assert task.history[-1].reason == "social timed out after 0.5 s (agents.defaults.delegationTimeout)"
    assert result.replies[-1].bot == "leader"


def test_a_delegation_that_works_is_done_and_reported(make_crew, llm_server, register_plugin):
    plugin = recorder()
    register_plugin(plugin, "recorder")
    crew = make_crew()
    answer, seen = delegate_then_answer(), []

    def watching(request):  # what `room task list` shows while the specialist works
        if "## Your brief from the Leader" in request["messages"][0]["content"]:
            seen.extend(task.status.value for task in crew.rooms.tasks("general"))
        return answer(request)

    llm_server.handler = watching
    ask(crew, "announce the launch")
    assert seen == ["in_progress"]
    [task] = crew.rooms.tasks("general")
    assert task.status.value == "done"
    assert [e[3] for e in plugin.events if e[0] == "task"] == ["created", "done"]


def test_the_leader_sees_the_rooms_open_tasks_and_nobody_else_does(make_crew, llm_server):
    crew = make_crew()
    rooms = crew.rooms
    rooms.add_task("general", "Ship the landing page", owner="coder", due="2026-12-01")
    done = rooms.add_task("general", "Pick a name")
    rooms.set_task_status("general", done.id, "done")
    for number in range(12):
        rooms.add_task("general", f"Chore {number}")
    ask(crew, "what is left to do?")
    system = llm_server.requests[0]["messages"][0]["content"]
    section = system.split("## Open tasks in this room", 1)[1]
    assert "(3 older open tasks not shown" in section  # 13 open, 10 shown: bounded
    assert "Pick a name" not in section and "Chore 11" in section
    assert "hand_over_task" in system

    llm_server.reset()
    ask(crew, "@coder how is it going?")
    coder_system = llm_server.requests[0]["messages"][0]["content"]
    assert "Open tasks in this room" not in coder_system and "hand_over_task" not in coder_system
    assert "hand_over_task" not in json.dumps(llm_server.requests[0].get("tools", []))


def test_the_leader_hands_a_task_over_and_the_history_shows_it(make_crew, llm_server, register_plugin, cli_runner):
    plugin = recorder()
    register_plugin(plugin, "recorder")
    crew = make_crew()
    task = crew.rooms.add_task("general", "Write the release notes", owner="coder")
    move = {"task_id": task.id, "to": "creative", "reason": "needs a storyteller"}
    llm_server.push(Reply(tool_calls=[ToolCall("hand_over_task", move)]), "Handed to Creative.")
    ask(crew, "the coder is busy; who can take the release notes?")
    tools = [t["function"]["name"] for t in llm_server.requests[0]["tools"]]
    assert "hand_over_task" in tools and "delegate" in tools
    moved = crew.rooms.task("general", task.id)
    assert moved.owner == "creative" and "creative" in crew.rooms.get("general").participants
    last = moved.history[-1]
    assert (last.kind, last.from_, last.to, last.reason) == ("handoff", "coder", "creative", "needs a storyteller")
    assert [e[3] for e in plugin.events if e[0] == "task"] == ["handoff"]
    tool_message = next(m for m in llm_server.requests[1]["messages"] if m["role"] == "tool")
    assert tool_message["content"] == f"task {task.id} is now owned by creative"

    shown = cli_runner(["room", "task", "history", task.id])
    assert shown.exit_code == 0
    assert "handoff coder -> creative  (needs a storyteller)" in shown.output


def test_hand_over_mistakes_go_back_to_the_model(make_crew, llm_server):
    crew = make_crew()
    done = crew.rooms.add_task("general", "Old work", owner="coder")
    crew.rooms.set_task_status("general", done.id, "done")
    llm_server.push(
        Reply(
            tool_calls=[
                ToolCall("hand_over_task", {"task_id": "t99", "to": "coder"}),
                ToolCall("hand_over_task", {"task_id": done.id, "to": "creative"}),
            ]
        ),
        "Sorry.",
    )
    ask(crew, "move the tasks around")
    results = [m["content"] for m in llm_server.requests[1]["messages"] if m["role"] == "tool"]
    assert results[0].startswith("error: no task 't99'")
    assert results[1] == f"error: task {done.id} is done; only open tasks can be handed over"
    assert crew.rooms.task("general", done.id).owner == "coder"


def test_a_failed_status_with_a_reason_from_the_command_line(cli_runner, nanofolks_home):
    assert cli_runner(["room", "task", "add", "Migrate the database"]).exit_code == 0
    changed = cli_runner(["room", "task", "status", "t1", "failed", "--reason", "the server is gone"])
    assert changed.exit_code == 0 and "failed" in changed.output
    history = cli_runner(["room", "task", "history", "t1"]).output
    assert "status todo -> failed  (the server is gone)" in history
    listed = cli_runner(["room", "list"]).output
    general = next(line for line in listed.splitlines() if line.startswith("general"))
    assert general.split()[3] == "0"  # a failed task is not open


def test_metrics_lines_from_plugins_are_served_on_the_health_port(plugin_host, register_plugin):
    from nanofolks_core.gateway.health import METRICS_TYPE, metrics_text, start_health_server

    good = types.ModuleType("good")
    good.nanofolks_metrics = hookimpl(lambda: ["# TYPE nanofolks_good_items gauge", "nanofolks_good_items 3"])
    broken = types.ModuleType("broken")
    broken.nanofolks_metrics = hookimpl(lambda: {}["missing"])
    odd = types.ModuleType("odd")
    odd.nanofolks_metrics = hookimpl(lambda: "not a list")
    for name, module in (("good", good), ("broken", broken), ("odd", odd)):
        register_plugin(module, name)
    plugin_host.strict = False

    async def scrape() -> tuple[str, str]:
        server = await start_health_server(
            lambda: {"status": "ok"}, "127.0.0.1", 0, lambda: metrics_text(plugin_host, 5)
        )
        port = server.sockets[0].getsockname()[1]
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            data = (await reader.read()).decode()
            writer.close()
        finally:
            server.close()
            await server.wait_closed()
        head, body = data.split("\r\n\r\n", 1)
        return head, body

    head, body = asyncio.run(scrape())
    assert head.startswith("HTTP/1.1 200") and f"Content-Type: {METRICS_TYPE}" in head
    lines = body.splitlines()
    assert "nanofolks_gateway_up 1" in lines and "nanofolks_gateway_uptime_seconds 5.000" in lines
    assert "nanofolks_good_items 3" in lines
    assert any(line.startswith("# a nanofolks_metrics result was not a list") for line in lines)
    assert plugin_host.records["broken"].state == "failed" and plugin_host.records["good"].state == "enabled"
