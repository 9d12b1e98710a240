"""The gateway with real channels (JSON lines over TCP to a test chat app) and the real pipeline
against the fake LLM server: who gets answers, where they are stored, how replies are sent, and
that a failing channel never stops the others."""

from __future__ import annotations

import time

import pytest
from gateway_helpers import get_json

from nanofolks_core.testing import Reply


def _channel(chat_app, **extra) -> dict:
    return {"enabled": True, "port": chat_app.port, **extra}


def test_a_stranger_gets_nothing_and_costs_no_model_call(start_gateway, chat_app, llm_server, caplog):
    llm_server.push("Ahoy Ada")
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["@Ada"])})

    for _ in range(3):
        chat_app.say("testchat", "let me in", sender="666", chat="s1", aliases=["mallory"])
    chat_app.say("testchat", "hello crew", sender="42", chat="c1", aliases=["ada"], message_id="m-7")  # by username
    sent = chat_app.wait_for(lambda: chat_app.sent("c1"), "a reply to Ada")

    assert sent[0]["send"].endswith(": Ahoy Ada")
    # The reply knows which message it answers (a thread, a quote), but not Ada's other names.
    assert sent[0]["reply_to"] == "m-7" and not sent[0]["aliases_leaked"]
    assert chat_app.sent("s1") == []
    assert len(llm_server.requests) == 1  # only Ada's message reached the model
    logged = [r.getMessage() for r in caplog.records if "not in channels.testchat.allowFrom" in r.getMessage()]
    assert len(logged) == 1 and "666" in logged[0]  # once per stranger, naming the key to fix
    history = gateway.app.sessions.read("general")
    assert [m.content for m in history] == ["hello crew", "Ahoy Ada"]
    assert history[0].channel == "testchat" and history[0].meta["sender"] == "42"


def test_empty_allow_from_answers_nobody_and_star_answers_anyone(start_gateway, chat_app, llm_server, caplog):
    start_gateway({"testchat": _channel(chat_app), "otherchat": _channel(chat_app, allowFrom=["*"])})
    assert any("allowFrom is empty, so it will answer nobody" in r.getMessage() for r in caplog.records)

    chat_app.say("testchat", "hi", sender="1", chat="a")
    chat_app.say("otherchat", "hi", sender="2", chat="b")
    chat_app.wait_for(lambda: chat_app.sent("b"), "the reply on otherchat")
    time.sleep(0.3)
    assert chat_app.sent("a") == []
    assert len(llm_server.requests) == 1


def test_replies_are_attributed_split_at_the_limit_and_typing_is_shown(start_gateway, chat_app, llm_server):
    answer = " ".join(f"word{i}" for i in range(60))  # ~400 characters
    llm_server.push(Reply(content=answer, delay=0.5))
    start_gateway({"testchat": _channel(chat_app, allowFrom=["*"], messageLimit=120)})

    chat_app.say("testchat", "tell me a long story", sender="7", chat="long")
    chat_app.wait_for(lambda: len(" ".join(d["send"] for d in chat_app.sent("long"))) > len(answer), "all pieces")

    pieces = chat_app.sent("long")
    assert len(pieces) >= 4 and all(len(p["send"]) <= 120 for p in pieces)
    whole = " ".join(p["send"] for p in pieces)
    assert whole.endswith(f": {answer}")  # nothing lost, in order
    assert whole.split(":")[0].strip()  # the speaker's name comes first, as in the terminal
    assert {p["bot"] for p in pieces} == {"leader"} and {p["room"] for p in pieces} == {"general"}
    assert chat_app.typing("long"), "typing was never shown while the crew worked"
    first_typing = chat_app.received.index(chat_app.typing("long")[0])
    assert first_typing < chat_app.received.index(pieces[0])


def test_a_linked_chat_talks_in_its_own_room(start_gateway, chat_app, llm_server, nanofolks_home, cli_runner):
    assert cli_runner(["room", "create", "ops"]).exit_code == 0
    linked = cli_runner(["room", "link", "ops", "testchat:team-chat"])
    assert linked.exit_code == 0 and "room 'ops'" in linked.output
    llm_server.push("in ops", "in general")
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])})

    chat_app.say("testchat", "deploy status?", sender="1", chat="team-chat")
    chat_app.wait_for(lambda: chat_app.sent("team-chat"), "the reply in ops")
    chat_app.say("testchat", "just chatting", sender="1", chat="dm")
    chat_app.wait_for(lambda: chat_app.sent("dm"), "the reply in general")

    assert chat_app.sent("team-chat")[0]["room"] == "ops"
    assert [m.content for m in gateway.app.sessions.read("ops")] == ["deploy status?", "in ops"]
    assert [m.content for m in gateway.app.sessions.read("general")] == ["just chatting", "in general"]

    unlinked = cli_runner(["room", "unlink", "testchat:team-chat"])
    assert unlinked.exit_code == 0 and "'general' again (was 'ops')" in unlinked.output
    assert gateway.app.rooms.room_for_channel("testchat", "team-chat") == "general"


def test_a_failing_channel_is_restarted_with_backoff_while_another_keeps_answering(
    start_gateway, chat_app, llm_server, monkeypatch
):
    from nanofolks_core.gateway import supervisor

    monkeypatch.setattr(supervisor, "BACKOFF_INITIAL", 0.05)
    monkeypatch.setattr(supervisor, "BACKOFF_MAX", 0.2)
    gateway = start_gateway(
        {
            "testchat": _channel(chat_app, allowFrom=["*"]),
            "otherchat": _channel(chat_app, fail="network is unreachable"),
        }
    )
    state = gateway.wait_state("otherchat", lambda s: s["restarts"] >= 3)
    assert state["state"] in ("backoff", "running")
    assert state["lastError"] == "ConnectionError: network is unreachable"

    chat_app.say("testchat", "still there?", sender="1", chat="c")
    assert chat_app.wait_for(lambda: chat_app.sent("c"), "a reply while otherchat keeps failing")
    assert gateway.health()["channels"]["testchat"]["state"] == "running"


def test_a_dropped_connection_is_restarted_and_answers_again(start_gateway, chat_app, llm_server, monkeypatch):
    from nanofolks_core.gateway import supervisor

    monkeypatch.setattr(supervisor, "BACKOFF_INITIAL", 0.05)
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])})
    chat_app.drop("testchat")  # start() returns

    state = gateway.wait_state("testchat", lambda s: s["restarts"] == 1 and s["state"] == "running")
    assert state["lastError"] == "start() returned (the connection ended)"
    chat_app.say("testchat", "back?", sender="1", chat="c")
    assert chat_app.wait_for(lambda: chat_app.sent("c"), "a reply after the reconnect")


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ({"broken": True}, "ValueError: no token: set channels.otherchat.token"),
        (
            {"sdkMissing": True},
            "cannot import nanofolks_no_such_sdk (the channel's SDK?): reinstall the plugin, "
            "e.g. `pip install --force-reinstall nanofolks-testchat`",
        ),
    ],
)
def test_a_channel_that_cannot_be_built_is_failed_and_the_gateway_still_serves(
    start_gateway, chat_app, llm_server, broken, reason
):
    gateway = start_gateway(
        {"testchat": _channel(chat_app, allowFrom=["*"]), "otherchat": _channel(chat_app, **broken)}
    )
    health = gateway.health()
    assert health["status"] == "ok"
    assert health["channels"]["otherchat"]["state"] == "failed"
    assert health["channels"]["otherchat"]["lastError"] == reason
    chat_app.say("testchat", "hi", sender="1", chat="c")
    assert chat_app.wait_for(lambda: chat_app.sent("c"), "a reply from the healthy channel")


def test_a_crew_error_is_one_apology_and_the_channel_goes_on(start_gateway, chat_app, llm_server, caplog):
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])}, providers={"local": {}})

    chat_app.say("testchat", "anyone?", sender="1", chat="c")
    sent = chat_app.wait_for(lambda: chat_app.sent("c"), "the apology")
    assert len(sent) == 1 and sent[0]["send"].startswith("Sorry, the crew could not answer that just now")
    assert gateway.app.sessions.read("general") == []  # an unanswered message is not stored
    assert llm_server.requests == []
    assert any("no answer for c in room general" in r.getMessage() for r in caplog.records)
    assert gateway.health()["channels"]["testchat"]["state"] == "running"


def test_health_answers_json_and_404_elsewhere(start_gateway, chat_app):
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])})
    gateway.wait_state("testchat", lambda s: s["state"] == "running")
    status, health = get_json(gateway.port)
    assert status == 200
    assert health["status"] == "ok" and health["version"] and health["pid"] > 0 and health["uptime"] >= 0
    assert set(health["channels"]["testchat"]) == {"state", "restarts", "lastError", "since"}
    assert get_json(gateway.port, "/nothing")[0] == 404


def test_stopping_removes_the_state_file_and_stops_the_channels(start_gateway, chat_app, nanofolks_home):
    from nanofolks_core.gateway.state import running_gateway

    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])})
    gateway.wait_state("testchat", lambda s: s["state"] == "running")
    assert running_gateway(nanofolks_home)["port"] == gateway.port
    assert gateway.stop() == 0
    assert not (nanofolks_home / "run" / "gateway.json").exists()
    assert running_gateway(nanofolks_home) is None


def test_rooms_answer_at_the_same_time_but_one_room_one_turn_at_a_time(start_gateway, chat_app, llm_server, cli_runner):
    assert cli_runner(["room", "create", "ops"]).exit_code == 0
    assert cli_runner(["room", "link", "ops", "testchat:ops-chat"]).exit_code == 0
    llm_server.handler = lambda request: Reply(content="done", delay=1.0)
    start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])})

    started = time.monotonic()
    chat_app.say("testchat", "first in general", sender="1", chat="g")
    chat_app.say("testchat", "first in ops", sender="1", chat="ops-chat")
    chat_app.wait_for(lambda: chat_app.sent("g") and chat_app.sent("ops-chat"), "both rooms' replies")
    assert time.monotonic() - started < 1.9  # the two rooms did not wait for each other

    chat_app.say("testchat", "second in general", sender="1", chat="g")
    chat_app.say("testchat", "third in general", sender="1", chat="g")
    chat_app.wait_for(lambda: len(llm_server.requests) == 3, "the second turn to reach the model")
    time.sleep(0.5)
    assert len(llm_server.requests) == 3  # the third waits for the second: one writer per room
    chat_app.wait_for(lambda: len(chat_app.sent("g")) == 3, "all replies in general")


def test_a_turn_that_outlives_the_shutdown_deadline_is_dropped_not_half_stored(
    start_gateway, chat_app, llm_server, nanofolks_home, monkeypatch, caplog
):
    from nanofolks_core.gateway import server

    monkeypatch.setattr(server, "DRAIN_SECONDS", 0.5)
    # The stdlib test provider blocks a worker thread, which a cancel cannot interrupt: keep the
    # hang short so the process can exit; it is still far longer than the 0.5 s deadline.
    llm_server.hang_next(4)
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"])})
    chat_app.say("testchat", "are you stuck?", sender="1", chat="c")
    chat_app.wait_for(lambda: llm_server.requests, "the model call")

    started = time.monotonic()
    assert gateway.stop() == 0
    assert time.monotonic() - started < 8
    assert gateway.app.sessions.read("general") == []
    gave_up = [r.getMessage() for r in caplog.records if r.getMessage().startswith("gave up on")]
    assert len(gave_up) == 1 and "testchat:c->general" in gave_up[0]
    assert not (nanofolks_home / "run" / "gateway.json").exists()


def test_deliver_sends_to_every_chat_linked_to_a_room(start_gateway, chat_app, cli_runner):
    assert cli_runner(["room", "create", "news"]).exit_code == 0
    for chat in ("a", "b"):
        assert cli_runner(["room", "link", "news", f"testchat:{chat}"]).exit_code == 0
    gateway = start_gateway({"testchat": _channel(chat_app, allowFrom=["*"], messageLimit=20)})
    gateway.wait_state("testchat", lambda s: s["state"] == "running")
    chat_app.wait_for(lambda: "testchat" in chat_app.clients, "the channel to connect")

    assert gateway.call(gateway.gateway.deliver("news", "the morning briefing is ready")) == 2
    for chat in ("a", "b"):
        pieces = chat_app.wait_for(lambda chat=chat: len(chat_app.sent(chat)) == 2 and chat_app.sent(chat), chat)
        assert " ".join(p["send"] for p in pieces) == "the morning briefing is ready"
        assert {p["room"] for p in pieces} == {"news"}
