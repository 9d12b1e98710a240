"""The real ``nanofolks gateway`` subprocess with Telegram enabled, against FakeTelegramServer and
the fake LLM server: what a person on Telegram notices.

Only the core, this plugin and the core's stdlib test provider load (``NANOFOLKS_LOAD_PLUGINS``);
the provider gets an entry point from a throwaway dist-info folder put on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from nanofolks_telegram.testing import FakeTelegramServer

from nanofolks_core.testing import default_reply_text

ADA = 4242  # in allowFrom, by id
BO = 4343  # in allowFrom, by username
STRANGER = 6666


def _provider_site(site: Path) -> str:
    dist = site / "nanofolks_telegram_gateway_test-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nanofolks-telegram-gateway-test\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[nanofolks.plugins]\ntest-provider = nanofolks_core.testing.provider\n")
    return str(site)


class Gateway:
    """``nanofolks gateway --port 0`` in a subprocess, for one data folder."""

    def __init__(self, home: Path, site: Path, token_value: str, api_base: str, llm_url: str, **telegram_config):
        config = {
            "agents": {"defaults": {"model": "local/test-model"}},
            "providers": {"local": {"apiBase": llm_url}},
            "memory": {"enabled": False},
            "channels": {
                "telegram": {
                    "enabled": True,
                    "apiBase": api_base,
                    "allowFrom": [str(ADA), "@bo_the_bosun"],
                    **telegram_config,
                }
            },
        }
        (home / "config.json").write_text(json.dumps(config))
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
        self.env |= {
            "NANOFOLKS_HOME": str(home),
            "NANOFOLKS_LOAD_PLUGINS": "telegram,test-provider",
            "PYTHONPATH": _provider_site(site),
            "TEST_TELEGRAM_TOKEN": token_value,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = self._wait_ready()["port"]

    def _wait_ready(self, timeout: float = 60.0) -> dict:
        state_file = self.home / "run" / "gateway.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the gateway exited {self.proc.returncode}: {self.proc.communicate()[1]}")
            try:
                return json.loads(state_file.read_text())
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("the gateway did not write gateway.json in time")

    def health(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as answer:
            return json.loads(answer.read())

    def wait_channel(self, condition, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.health()["channels"].get("telegram")
            if state is not None and condition(state):
                return state
            time.sleep(0.1)
        raise AssertionError(f"telegram never reached the state: {self.health()}")

    def nanofolks(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nanofolks_core", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def terminate(self) -> tuple[int, str]:
        """SIGTERM; returns the exit code and stderr."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"the gateway did not stop on SIGTERM: {err}") from None
        return self.proc.returncode, err


@pytest.fixture
def telegram():
    with FakeTelegramServer() as server:
        yield server


@pytest.fixture
def start_gateway(nanofolks_home, tmp_path, llm_server, telegram):
    started: list[Gateway] = []

    def start(*, token: str | None = None, token_ref: str = "env:TEST_TELEGRAM_TOKEN", **telegram_config) -> Gateway:
        site = tmp_path / f"site{len(started)}"
        token = token or telegram.token
        gateway = Gateway(
            nanofolks_home, site, token, telegram.url, llm_server.base_url, **telegram_config, token=token_ref
        )
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        if gateway.proc.poll() is None:
            gateway.proc.kill()
            gateway.proc.communicate()


def test_an_allowed_user_gets_the_crews_reply_and_a_stranger_gets_nothing(start_gateway, telegram, llm_server):
    long_answer = "Arr, a long tale. " * 600  # 10 800 characters: three Telegram messages

    def model(request):
        asked = request["messages"][-1]["content"]
        return long_answer if "tell me a long tale" in asked else default_reply_text(request)

    llm_server.handler = model
    gateway = start_gateway()
    telegram.wait_for_request("getUpdates", timeout=60)  # polling

    telegram.push_message(STRANGER, "let me in, I am a stranger", username="stranger")
    telegram.push_message(ADA, "hello crew", username="ada")
    hello = telegram.wait_for_sent(1, timeout=60)[0]
    telegram.push_message(BO, "tell me a long tale", chat_id=-1001, username="bo_the_bosun", mention_bot=True)
    sent = telegram.wait_for_sent(4, timeout=60)
    time.sleep(0.5)  # room for a wrong extra message to arrive
    health = gateway.health()
    history = gateway.nanofolks("room", "history", "general")
    code, err = gateway.terminate()

    assert hello["chat_id"] == ADA and hello["text"].endswith(": [test-model] hello crew")  # attributed to its bot
    assert "parse_mode" not in hello["params"]
    tale = [message for message in telegram.sent if message["chat_id"] == -1001]
    assert len(tale) == 3 and all(len(part["text"]) <= 4096 for part in tale)
    assert " ".join(part["text"] for part in tale).split()[-3:] == long_answer.split()[-3:]
    assert len(telegram.sent) == len(sent) == 4  # nothing went to the stranger's chat
    assert {action["chat_id"] for action in telegram.chat_actions} >= {ADA, -1001}  # "typing…" while the crew works
    assert all(action["action"] == "typing" for action in telegram.chat_actions)

    sent_to_model = json.dumps([request["messages"] for request in llm_server.requests])
    assert "hello crew" in sent_to_model and "tell me a long tale" in sent_to_model
    assert "stranger" not in sent_to_model  # the stranger cost no model call
    assert health["channels"]["telegram"]["state"] == "running"

    assert history.returncode == 0, history.stderr
    assert "hello crew" in history.stdout and "tell me a long tale" in history.stdout  # both chats land in general

    assert code == 0, err  # SIGTERM stops the gateway cleanly
    assert not (gateway.home / "run" / "gateway.json").exists()
    assert str(STRANGER) in err and "allowFrom" in err  # logged once, with how to let them in
    assert telegram.token not in err


def test_a_long_conversation_is_answered_to_the_last_message(start_gateway, telegram):
    # Every reply cancels the chat's "typing…" loop, sometimes mid-request; that once used up the
    # HTTP connection pool after a few dozen messages (how many depends on timing: the channel test
    # test_typing_cancelled_mid_request_hundreds_of_times_leaves_send_working pins it down).
    gateway = start_gateway()
    telegram.wait_for_request("getUpdates", timeout=60)
    for number in range(60):
        telegram.push_message(ADA, f"message {number}")
        telegram.wait_for_sent(number + 1, timeout=30)
    code, err = gateway.terminate()
    assert [m["text"].rsplit(" ", 1)[-1] for m in telegram.sent] == [str(n) for n in range(60)]
    assert code == 0, err
    assert "could not send" not in err


def test_a_token_that_cannot_be_read_marks_the_channel_failed(start_gateway):
    gateway = start_gateway(token_ref="env:TELEGRAM_TOKEN_NOT_EXPORTED")
    state = gateway.wait_channel(lambda state: state["state"] == "failed")
    assert "TELEGRAM_TOKEN_NOT_EXPORTED" in state["lastError"]
    code, err = gateway.terminate()
    assert code == 0, err


def test_a_rejected_token_shows_on_health_and_the_gateway_keeps_running(start_gateway, telegram):
    gateway = start_gateway(token="777:a-token-telegram-does-not-know")
    state = gateway.wait_channel(lambda state: state["lastError"] is not None)
    assert state["state"] != "running"
    assert "token was rejected" in state["lastError"] and "@BotFather" in state["lastError"]
    assert gateway.health()["status"]  # the gateway itself still answers
    code, err = gateway.terminate()
    assert code == 0, err
    assert "token was rejected" in err
    assert "Traceback" not in err
    assert "a-token-telegram-does-not-know" not in err
