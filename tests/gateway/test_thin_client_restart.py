"""A conversation through the gateway outlives the gateway: a message typed after it stopped,
restarted or died is sent exactly once (to the new gateway, or to the crew in this process).
Real processes: ``nanofolks chat`` fed by a pipe, real gateways, the testing kit's FakeLLMServer."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nanofolks_core.testing.gateway import GatewayProcess, cli_env
from nanofolks_core.testing.llm_server import FakeLLMServer

pytest.importorskip("nanofolks_provider_litellm")


@pytest.fixture(scope="module")
def llm():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def home(tmp_path, llm) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm.base_url, "timeout": 30}},
    }
    (path / "config.json").write_text(json.dumps(config))
    return path


class PipedChat:
    """``nanofolks chat`` reading lines from a pipe, as ``(echo first; sleep 12; echo second) | nanofolks chat``."""

    def __init__(self, home: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "chat"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_env(home),
        )
        self.out = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while chunk := self.proc.stdout.read1(65536):
            self.out += chunk

    def say(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.out:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"{text!r} not printed; stdout so far: {self.out.decode()!r}")
            time.sleep(0.05)

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        self.proc.stdin.close()
        err = self.proc.stderr.read()
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code, self.out.decode(), err.decode()


def asked(llm: FakeLLMServer, text: str) -> int:
    return sum(r["messages"][-1]["content"] == text for r in llm.requests)


def test_a_line_after_the_gateway_restarted_goes_to_the_new_gateway_once(home, llm):
    first = GatewayProcess(home).start()
    chat = PipedChat(home)
    try:
        chat.say("first")
        chat.wait_for("[test-model] first")
        chat.say("/rooms")  # printed once the gateway has answered "first" to the end (one request at a time)
        chat.wait_for("general")
        assert first.stop() == 0  # SIGTERM, as a restart does
        with GatewayProcess(home) as second:
            chat.say("second")
            chat.wait_for("[test-model] second")
            code, out, err = chat.finish()
            new_pid = second.pid
    finally:
        first.kill()
        chat.proc.kill()
    assert code == 0, err
    assert out.count("[test-model] second") == 1 and asked(llm, "second") == 1
    assert err.strip().splitlines() == [f"warning: the gateway restarted (now pid {new_pid}); going on with it"]
    assert "Broken pipe" not in err and "Traceback" not in err


def test_lines_after_the_gateway_died_are_answered_in_process_with_one_warning(home, llm):
    gateway = GatewayProcess(home).start()
    chat = PipedChat(home)
    try:
        chat.say("first")
        chat.wait_for("[test-model] first")
        chat.say("/rooms")  # printed once the gateway has answered "first" to the end (one request at a time)
        chat.wait_for("general")
        dead_pid = gateway.pid
        gateway.kill()  # SIGKILL: gateway.json stays behind
        chat.say("second line")
        chat.say("third line")
        code, out, err = chat.finish()
    finally:
        gateway.kill()
        chat.proc.kill()
    assert code == 0, err
    assert [out.count(f"[test-model] {line}") for line in ("first", "second line", "third line")] == [1, 1, 1]
    assert asked(llm, "second line") == 1 and asked(llm, "third line") == 1
    warnings = err.strip().splitlines()
    assert warnings == [
        f"warning: the gateway (pid {dead_pid}) is no longer running; answering in this process from now on"
    ]
