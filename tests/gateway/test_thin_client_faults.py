"""The thin client when things go wrong: stale run files, a refusing or dying gateway, Ctrl-C,
garbage on the socket. Real processes against the testing kit's FakeLLMServer."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nanofolks_core.gateway import protocol
from nanofolks_core.gateway.state import GatewayLock, running_gateway
from nanofolks_core.testing.gateway import GatewayProcess, cli_env
from nanofolks_core.testing.llm_server import FakeLLMServer

pytest.importorskip("nanofolks_provider_litellm")


def make_home(path: Path, llm: FakeLLMServer) -> Path:
    path.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm.base_url, "timeout": 30}},
    }
    (path / "config.json").write_text(json.dumps(config))
    return path


def chat(home: Path, text: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "chat", "-m", text],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=timeout,
    )


def history(home: Path) -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "room", "history", "general", "--limit", "0", "--json"],
        capture_output=True,
        text=True,
        env=cli_env(home),
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return [m["content"] for m in json.loads(run.stdout)]


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def llm():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def served_home(tmp_path_factory, llm) -> Path:
    return make_home(tmp_path_factory.mktemp("faults") / "home", llm)


@pytest.fixture(scope="module")
def gateway(served_home):
    with GatewayProcess(served_home) as process:
        yield process


@pytest.fixture
def home(tmp_path, llm) -> Path:
    return make_home(tmp_path / "home", llm)


# -- no usable gateway: the CLI answers in process -----------------------------------------


def test_a_stale_gateway_json_is_ignored_and_removed(home):
    run_dir = home / "run"
    run_dir.mkdir(mode=0o700)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state = {"pid": int(dead.stdout), "port": 1, "socket": str(run_dir / "gateway.sock"), "version": "0.1.0"}
    (run_dir / "gateway.json").write_text(json.dumps(state))
    run = chat(home, "Hello")
    assert run.returncode == 0, run.stderr
    assert "[test-model] Hello" in run.stdout and run.stderr == ""
    assert not (run_dir / "gateway.json").exists()


def test_a_live_lock_with_nobody_listening_falls_back(home):
    """gateway.json and the lock say "running", but the socket refuses (a gateway starting up or hung
    before listening): answered in process, no error."""
    with GatewayLock(home):
        not_a_socket = home / "run" / "gateway.sock"
        not_a_socket.write_text("")
        state = {"pid": os.getpid(), "port": 1, "socket": str(not_a_socket), "version": "0.1.0"}
        (home / "run" / "gateway.json").write_text(json.dumps(state))
        assert running_gateway(home) is not None
        run = chat(home, "Hello")
    assert run.returncode == 0, run.stderr
    assert "[test-model] Hello" in run.stdout and run.stderr == ""


def test_a_gateway_of_another_protocol_is_refused_with_a_warning(home, tmp_path):
    """A gateway left running across an upgrade: the CLI says so once and answers in process."""
    path = tmp_path / "old.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()

    def old_gateway() -> None:
        conn, _ = listener.accept()
        with conn:
            request = protocol.decode(conn.makefile("rb").readline())
            conn.sendall(protocol.encode({"id": request["id"], "type": "ok", "protocol": 0, "version": "0.0.9"}))

    thread = threading.Thread(target=old_gateway, daemon=True)
    thread.start()
    with GatewayLock(home):
        (home / "run" / "gateway.json").write_text(json.dumps({"pid": os.getpid(), "socket": str(path)}))
        run = chat(home, "Hello")
    listener.close()
    assert run.returncode == 0, run.stderr
    assert "[test-model] Hello" in run.stdout
    assert run.stderr.count("\n") == 1 and "speaks protocol 0" in run.stderr and "in this process" in run.stderr


# -- garbage on the socket ---------------------------------------------------------------------


def _exchange(path: str, data: bytes, *, read: bool = True) -> list[dict]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while read and (chunk := sock.recv(65536)):
            received += chunk
    return [protocol.decode(line) for line in received.splitlines()]


def test_garbage_on_the_socket_never_stops_the_gateway(gateway, served_home):
    path = gateway.state["socket"]
    answers = _exchange(
        path,
        b"\x00\xff\xfe not json at all\n"
        b"[1, 2, 3]\n"
        b'{"op": "no-such-op", "id": 1}\n'
        b'{"op": "chat", "id": 2}\n'
        b'{"op": "history", "id": 3, "room": 5}\n'
        b'{"op": "chat", "id": 4, "text": "x", "room": "no-such-room"}\n'
        b'{"op": "ping", "id": 5}\n',
    )
    assert [a["type"] for a in answers] == ["error"] * 6 + ["ok"]
    assert [a["id"] for a in answers] == [None, None, 1, 2, 3, 4, 5]
    assert answers[-1]["pong"] is True
    assert all(a["exit_code"] in (1, 2) and a["message"] for a in answers[:-1])
    # A line longer than the protocol allows closes that connection only.
    _exchange(path, b"x" * (protocol.MAX_LINE + 10))
    # Half a request, then gone.
    _exchange(path, b'{"op": "chat", "text": "hal', read=False)
    # Binary noise without any newline, then gone.
    _exchange(path, os.urandom(200_000), read=False)
    assert gateway.proc.poll() is None
    run = chat(served_home, "still answering?")
    assert run.returncode == 0, run.stderr
    assert "[test-model] still answering?" in run.stdout


# -- Ctrl-C and a dying gateway ---------------------------------------------------------------


def test_ctrl_c_in_the_client_exits_130_and_the_gateway_drops_the_turn(gateway, served_home, llm):
    llm.hang_next(120)
    before = len(llm.requests)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanofolks_core", "chat", "-m", "a very long story"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(served_home),
    )
    try:
        wait_for(lambda: len(llm.requests) > before)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.decode().strip() == "Interrupted."
    assert out == b""
    # The gateway cancelled that turn (nothing stored) and the room is free for the next one.
    run = chat(served_home, "after the interrupt")
    assert run.returncode == 0, run.stderr
    stored = history(served_home)
    assert "a very long story" not in stored
    assert stored[-2:] == ["after the interrupt", "[test-model] after the interrupt"]


def test_a_gateway_that_dies_mid_turn_is_one_line_and_a_failure(tmp_path, llm):
    home = make_home(tmp_path / "home", llm)
    with GatewayProcess(home) as dying:
        llm.hang_next(120)
        before = len(llm.requests)
        proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "chat", "-m", "are you there?"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(home),
        )
        try:
            wait_for(lambda: len(llm.requests) > before)
            dying.kill()
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: the gateway (pid ") and "stopped" in lines[0]
    assert out == b""
    # The next message, with the gateway gone, is answered in process.
    run = chat(home, "anyone?")
    assert run.returncode == 0, run.stderr
    assert "[test-model] anyone?" in run.stdout


# -- interactive, on a terminal ----------------------------------------------------------------


class Terminal:
    """``nanofolks chat`` on a pseudo-terminal, as a person would run it."""

    def __init__(self, home: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "chat"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=cli_env(home, TERM="xterm"),
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""
        self.seen = 0

    def read_until(self, pattern: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while (found := re.search(pattern, self.screen[self.seen :])) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; screen so far:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    if self.proc.poll() is not None:
                        raise AssertionError(f"{pattern!r} not seen; exited. Screen:\n{self.screen}") from None
        start, self.seen = self.seen, self.seen + found.end()
        return self.screen[start : self.seen]

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        os.close(self.master)


def test_interactive_chat_streams_through_the_gateway_and_ctrl_c_cancels_a_turn(gateway, served_home, llm):
    term = Terminal(served_home)
    try:
        term.read_until(r"\[general\] you> ")
        term.type("tell me about the sea\n")
        term.read_until(r"\[test-model\] tell me about the sea\s*\r?\n[\s\S]*\[general\] you> ")
        asked = [r for r in llm.requests if r["messages"][-1]["content"] == "tell me about the sea"]
        assert asked and asked[-1].get("stream") is True  # streamed from the model, through the gateway
        # During a reply: the wait counter shows, Ctrl-C cancels that turn, back at the prompt.
        llm.hang_next(120)
        before = len(llm.requests)
        term.type("a story that never ends\n")
        wait_for(lambda: len(llm.requests) > before)
        term.read_until(r"waiting for vllm/test-model… \d+ s", timeout=15)
        term.proc.send_signal(signal.SIGINT)
        term.read_until(r"\(cancelled; nothing more from this turn\)[\s\S]*\[general\] you> ", timeout=15)
        # The next message goes through a fresh connection and is answered.
        term.type("still there?\n")
        term.read_until(r"\[test-model\] still there\?[\s\S]*\[general\] you> ")
        term.type("\x04")
        assert term.proc.wait(timeout=15) == 0
    finally:
        term.close()
    assert "Traceback" not in term.screen
    assert "a story that never ends" not in history(served_home)
