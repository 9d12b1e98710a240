"""The control protocol in process (no subprocess, no model library): what crosses the socket
prints exactly what the in-process records print, and the server's socket is the owner's only."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from types import SimpleNamespace

import attrs
import pytest

from nanofolks_core.cli.chat_output import ReplyPrinter, WaitCounter, print_turn_json
from nanofolks_core.contracts import RouteDecision
from nanofolks_core.crew.team import Character, Team
from nanofolks_core.gateway import protocol
from nanofolks_core.gateway.control import start_control_server
from nanofolks_core.messages import Usage
from nanofolks_core.pipeline.dispatch import Assignment
from nanofolks_core.pipeline.intent import Intent
from nanofolks_core.pipeline.records import BotReply, CrewEvent, TurnResult

TRICKY = "tab\there \x1b]0;title\x07 emoji 🏴‍☠️, C1 \x9b2J, accents éà"


def _turn() -> TurnResult:
    replies = (
        BotReply("leader", "Captain", "🏴‍☠️", f"ahoy {TRICKY}", "vllm/m", Usage(prompt_tokens=3, completion_tokens=4)),
        BotReply("coder", "Sawyer", "🔨", "failed", "vllm/m", delegated_by="leader", error="boom"),
    )
    return TurnResult(
        "general",
        replies,
        Intent("task", 0.85),
        Assignment(("leader", "coder"), "mention", ("coder",)),
        RouteDecision(tier="simple", model="vllm/m", confidence=0.9, layer=1, reason="short"),
        ("a warning",),
        120,
        8192,
        {"total": 12.5},
    )


def _team() -> Team:
    def character(role: str, name: str, emoji: str) -> Character:
        return Character(
            role=role,
            name=name,
            emoji=emoji,
            personality="",
            voice="",
            greeting=f"{name} \x1b[2J here",
            catchphrases=(),
        )

    characters = {"leader": character("leader", "Captain", "🏴‍☠️"), "coder": character("coder", "Sawyer", "🔨")}
    return Team(name="t", title="T", vibe="", description="", characters=characters)


def _printed(capsys, team, events, result, as_json: bool) -> str:
    printer = ReplyPrinter(team, as_json, WaitCounter(enabled=False))
    for event in events:
        printer(event)
    printer.end_stream()
    if as_json:
        print_turn_json(result)
    return capsys.readouterr().out


@pytest.mark.parametrize("as_json", [False, True])
def test_decoded_events_and_result_print_what_the_records_print(capsys, as_json):
    team = _team()
    result = _turn()
    events = [
        CrewEvent("start", "leader"),
        CrewEvent("delta", "leader", text="ah"),
        CrewEvent("delta", "leader", text=f"oy {TRICKY[:12]}"),
        CrewEvent("delta", "leader", text=TRICKY[12:]),
        CrewEvent("reply", "leader", reply=result.replies[0]),
        CrewEvent("reply", "coder", reply=result.replies[1]),
    ]
    direct = _printed(capsys, team, events, result, as_json)
    wire_team = protocol.WireTeam(protocol.team_to_wire(team))
    lines = [protocol.encode({"type": "event", **protocol.event_to_wire(e)}) for e in events]
    decoded_events = [protocol.event_from_wire(protocol.decode(line)) for line in lines]
    decoded_result = protocol.turn_from_wire(protocol.decode(protocol.encode(protocol.turn_to_wire(result))))
    assert _printed(capsys, wire_team, decoded_events, decoded_result, as_json) == direct
    assert direct  # something was printed at all
    assert decoded_result.warnings == result.warnings
    assert decoded_result.replies[0].text == result.replies[0].text


def test_wire_lines_are_ascii_json_objects():
    text = TRICKY + " \ud800 a lone surrogate (a model can send one) survives the trip"
    line = protocol.encode({"text": text})
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert protocol.decode(line) == {"text": text}
    with pytest.raises(ValueError):
        protocol.decode(b"[1, 2]\n")


class _Gateway:
    """Just enough of a Gateway for the control server's ping."""

    crew = SimpleNamespace()
    app = SimpleNamespace(data_root=None)


def test_the_socket_is_created_0600_in_a_0700_folder_replacing_a_stale_one(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    path = folder / "gateway.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a dead gateway's socket file: nobody listens on it
    stale.close()

    async def scenario() -> dict:
        server = await start_control_server(_Gateway(), path)
        try:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            reader, writer = await asyncio.open_unix_connection(str(path))
            writer.write(protocol.encode({"op": "ping", "id": 7}))
            answer = protocol.decode(await reader.readline())
            writer.close()
            return answer
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()) == {"id": 7, "type": "ok", "pong": True}
    assert os.getuid() == path.parent.stat().st_uid


class _SlowGateway:
    """A Gateway whose turns stream one delta, then take ``seconds`` (cancellable, as the real one)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.cancelled = 0
        self.app = SimpleNamespace(data_root=None, rooms=SimpleNamespace(get=lambda name: SimpleNamespace(id=name)))

    async def handle(self, inbound, *, on_event=None, stream=False):
        on_event(CrewEvent("delta", "leader", text="thinking"))
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return attrs.evolve(_turn(), room=inbound.room)


async def _conversation(gateway, path, lines: list[dict], *, cancel_after_event: bool = False) -> list[dict]:
    """Send ``lines``, read answers until each chat/op has its last one (a ``cancel`` sent after the
    first event ends the chat instead)."""
    server = await start_control_server(gateway, path)
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        for line in lines:
            writer.write(protocol.encode(line))
        answers: list[dict] = []
        while sum(a["type"] in protocol.TERMINAL_TYPES for a in answers) < len(lines):
            answers.append(protocol.decode(await asyncio.wait_for(reader.readline(), 10)))
            if cancel_after_event and answers[-1]["type"] == "event":
                writer.write(protocol.encode({"op": "cancel", "id": 99}))
        writer.close()
        return answers
    finally:
        server.close()
        await server.wait_closed()


def test_cancel_stops_the_turn_and_a_pipelined_request_waits_for_it(tmp_path):
    slow = _SlowGateway(seconds=30)
    chat = {"op": "chat", "id": 1, "text": "hi"}
    answers = asyncio.run(_conversation(slow, tmp_path / "a.sock", [chat], cancel_after_event=True))
    assert [a["type"] for a in answers] == ["event", "error"]
    assert answers[-1]["id"] == 1 and answers[-1]["kind"] == "cancelled" and answers[-1]["exit_code"] == 130
    assert slow.cancelled == 1

    quick = _SlowGateway(seconds=0.2)
    answers = asyncio.run(_conversation(quick, tmp_path / "b.sock", [chat, {"op": "ping", "id": 2}]))
    assert [(a["id"], a["type"]) for a in answers] == [(1, "event"), (1, "result"), (2, "ok")]
    assert answers[1]["turn"]["room"] == "general" and quick.cancelled == 0


def test_a_gateway_shutting_down_refuses_new_clients_so_they_answer_in_process(tmp_path):
    stopping = _SlowGateway(seconds=0)
    stopping.accepting = False
    answers = asyncio.run(_conversation(stopping, tmp_path / "c.sock", [{"op": "hello", "id": 1, "protocol": 1}]))
    assert answers == [{"id": 1, "type": "error", "kind": "refused", "exit_code": 1, "message": answers[0]["message"]}]
    assert "shutting down" in answers[0]["message"]


class _GivingUpGateway(_SlowGateway):
    """A stopping gateway that gives up on the turn at its drain deadline (the turn ends cancelled)."""

    async def handle(self, inbound, *, on_event=None, stream=False):
        on_event(CrewEvent("delta", "leader", text="thinking"))
        await asyncio.sleep(0.05)
        raise asyncio.CancelledError  # what Gateway.handle raises when drain() cancels its turn


def test_a_turn_given_up_at_shutdown_is_a_clean_error_and_no_asyncio_traceback(tmp_path, caplog):
    async def scenario() -> list[dict]:
        answers = await _conversation(_GivingUpGateway(0), tmp_path / "d.sock", [{"op": "chat", "id": 1, "text": "hi"}])
        await asyncio.sleep(0.2)  # let the connection's task end and its done-callbacks run
        return answers

    with caplog.at_level("DEBUG", logger="asyncio"):
        answers = asyncio.run(scenario())
    assert [a["type"] for a in answers] == ["event", "error"]
    assert answers[-1]["exit_code"] == 1 and "stopped before this turn finished" in answers[-1]["message"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text


class _StoppingGateway(_SlowGateway):
    """A gateway that began shutting down after this client's hello: it starts no new turn."""

    async def handle(self, inbound, *, on_event=None, stream=False):
        from nanofolks_core.gateway.server import GatewayStopping

        raise GatewayStopping("the gateway is shutting down; send the message again once it is back")


def test_a_chat_a_stopping_gateway_did_not_start_is_refused_so_the_client_sends_it_elsewhere(tmp_path):
    answers = asyncio.run(
        _conversation(_StoppingGateway(0), tmp_path / "e.sock", [{"op": "chat", "id": 1, "text": "hi"}])
    )
    assert [(a["type"], a["kind"]) for a in answers] == [("error", "refused")]
