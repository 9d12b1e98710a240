"""The real ``nanofolks gateway`` subprocess with channels.discord enabled, against FakeDiscordServer
(Discord) and the testing kit's FakeLLMServer (the model, through nanofolks-provider-litellm).

Needs nanofolks-provider-litellm installed (the crew needs a provider to answer); skipped without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from importlib.util import find_spec

import pytest
from nanofolks_discord.testing import FakeDiscordServer

needs_provider = pytest.mark.skipif(
    find_spec("nanofolks_provider_litellm") is None, reason="needs nanofolks-provider-litellm for the crew's model"
)

TOKEN = "MTAx.fake.gateway-token"
ADA, ADA_CHAT = 100000000000000042, 200000000000000007
STRANGER, STRANGER_CHAT = 100000000000000666, 200000000000000066


def _env(home, plugins: str = "discord,provider-litellm", token: str = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NANOFOLKS_", "DISCORD_"))}
    env.update(
        NANOFOLKS_HOME=str(home),
        # Only what this test is about: no memory/router plugins to start (they are tested elsewhere).
        NANOFOLKS_LOAD_PLUGINS=plugins,
        DISCORD_TEST_TOKEN=token,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
    )
    return env


def _health(home) -> dict:
    state_file = home / "run" / "gateway.json"
    port = json.loads(state_file.read_text())["port"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:  # noqa: S310 - local
        return json.loads(answer.read())


def _wait_for(predicate, timeout: float, what: str, log) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} within {timeout} s; gateway log:\n{log.read_text()[-3000:]}")


@needs_provider
def test_the_gateway_answers_an_allowed_discord_user_and_ignores_a_stranger(tmp_path, llm_server):
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "gateway.log"
    with FakeDiscordServer(token=TOKEN) as discord_server:
        config = {
            "agents": {"defaults": {"model": "vllm/test-model"}},
            "providers": {"vllm": {"apiBase": llm_server.base_url}},
            "channels": {
                "discord": {
                    "enabled": True,
                    "token": "env:DISCORD_TEST_TOKEN",
                    "apiBase": discord_server.api_base,
                    "allowFrom": [str(ADA)],
                }
            },
        }
        (home / "config.json").write_text(json.dumps(config))
        with log.open("wb") as output:
            gateway = subprocess.Popen(
                [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
                env=_env(home),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for(lambda: discord_server.connected, 90, "the discord channel did not connect", log)
            _wait_for(lambda: (home / "run" / "gateway.json").exists(), 30, "no run/gateway.json", log)
            health = _health(home)
            assert health["channels"]["discord"]["state"] == "running", health

            discord_server.push_message("let me in", author_id=STRANGER, author_name="eve", channel_id=STRANGER_CHAT)
            discord_server.push_message("Ahoy crew", author_id=ADA, author_name="ada", channel_id=ADA_CHAT)
            sent = discord_server.wait_for_sent(1, timeout=60)
            time.sleep(1.0)  # time for a wrong second answer (to the stranger) to show up
            sent = list(discord_server.sent)
        finally:
            gateway.send_signal(signal.SIGTERM)
            code = gateway.wait(30)

        assert code == 0, log.read_text()[-3000:]
        assert [message["channel_id"] for message in sent] == [str(ADA_CHAT)]  # the stranger got nothing
        # The Leader's answer, attributed: the fake model echoes the user's words.
        assert sent[0]["content"].endswith("Leader: [test-model] Ahoy crew"), sent[0]["content"]
        assert sent[0]["allowed_mentions"] == {"parse": []}
        assert str(ADA_CHAT) in discord_server.typing
        prompts = json.dumps(llm_server.requests)
        assert "Ahoy crew" in prompts and "let me in" not in prompts  # the stranger cost no model call
        assert f"ignored a message from {STRANGER}" in log.read_text()
        discord_server.wait_until_disconnected()
        # The client sent a close frame, the connection did not just drop: discord.py sends 1000, or 4000
        # when its reader is waiting (aiohttp hands the close to the reader, which closes with 4000).
        assert len(discord_server.closes) == 1 and discord_server.closes[0] in (1000, 4000), discord_server.closes
        assert not (home / "run" / "gateway.json").exists()

    history = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "room", "history", "general"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Ahoy crew" in history.stdout, history.stdout + history.stderr  # the chat continued room general
    assert "let me in" not in history.stdout


def test_a_wrong_token_shows_in_health_with_the_fix_and_never_in_the_log(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "gateway.log"
    wrong = "MTAx.wrong.token-that-must-not-be-logged"
    with FakeDiscordServer(token=TOKEN) as discord_server:
        channel = {"enabled": True, "token": "env:DISCORD_TEST_TOKEN", "apiBase": discord_server.api_base}
        (home / "config.json").write_text(json.dumps({"channels": {"discord": channel}}))
        with log.open("wb") as output:
            gateway = subprocess.Popen(
                [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
                env=_env(home, plugins="discord", token=wrong),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_for(lambda: (home / "run" / "gateway.json").exists(), 60, "no run/gateway.json", log)
            _wait_for(
                lambda: (_health(home)["channels"]["discord"]["lastError"] or "").count("rejected the bot token"),
                30,
                "health did not show the token error",
                log,
            )
            health = _health(home)
        finally:
            gateway.send_signal(signal.SIGTERM)
            code = gateway.wait(30)
        assert discord_server.identifies == []  # it never got past the REST login

    assert code == 0
    discord = health["channels"]["discord"]
    assert discord["state"] in ("backoff", "starting"), discord
    assert "Reset Token" in discord["lastError"]
    assert health["status"]  # the gateway itself is up while the channel waits to retry
    assert wrong not in log.read_text() and wrong not in json.dumps(health)


def test_an_unset_token_variable_is_failed_once_not_retried(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    log = tmp_path / "gateway.log"
    channel = {"enabled": True, "token": "env:DISCORD_TEST_TOKEN", "apiBase": "http://127.0.0.1:9"}
    (home / "config.json").write_text(json.dumps({"channels": {"discord": channel}}))
    env = _env(home, plugins="discord")
    del env["DISCORD_TEST_TOKEN"]
    with log.open("wb") as output:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: (home / "run" / "gateway.json").exists(), 60, "no run/gateway.json", log)
        first = _health(home)["channels"]["discord"]
        time.sleep(1.5)  # long enough for a first backoff restart, were there one
        later = _health(home)["channels"]["discord"]
    finally:
        gateway.send_signal(signal.SIGTERM)
        code = gateway.wait(30)
    assert code == 0
    assert first["state"] == later["state"] == "failed", later
    assert later["restarts"] == 0
    assert "DISCORD_TEST_TOKEN" in later["lastError"]
