"""The real ``nanofolks gateway`` subprocess with Slack enabled, against FakeSlackServer and the fake LLM server.

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

import pytest
from nanofolks_slack.testing import FakeSlackServer


def _provider_entry_point(site) -> str:
    dist = site / "nanofolks_slack_gateway_test-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nanofolks-slack-gateway-test\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[nanofolks.plugins]\ntest-provider = nanofolks_core.testing.provider\n")
    return str(site)


def _wait_for_file(path, proc, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited {proc.returncode}: {proc.communicate()[1]}")
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            time.sleep(0.05)
    raise AssertionError("the gateway did not write gateway.json in time")


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
        return json.loads(answer.read())


@pytest.fixture
def slack():
    with FakeSlackServer() as server:
        yield server


class Gateway:
    """``nanofolks gateway --port 0`` as a subprocess, with Slack pointed at ``slack``."""

    def __init__(self, home, site, llm_server, slack, *, bot_token: str, app_token_set: bool = True) -> None:
        config = {
            "agents": {"defaults": {"model": "local/test-model"}},
            "providers": {"local": {"apiBase": llm_server.base_url}},
            "memory": {"enabled": False},
            "channels": {
                "slack": {
                    "enabled": True,
                    "allowFrom": ["U0001"],
                    "botToken": "env:TEST_SLACK_BOT_TOKEN",
                    "appToken": "env:TEST_SLACK_APP_TOKEN",
                    "apiBase": slack.api_base,
                }
            },
        }
        (home / "config.json").write_text(json.dumps(config))
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
        self.env |= {
            "NANOFOLKS_HOME": str(home),
            "NANOFOLKS_LOAD_PLUGINS": "slack,test-provider",
            "PYTHONPATH": _provider_entry_point(site),
            "TEST_SLACK_BOT_TOKEN": bot_token,
            "TEST_SLACK_APP_TOKEN": slack.app_token,
        }
        if not app_token_set:
            del self.env["TEST_SLACK_APP_TOKEN"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err = ""

    def __enter__(self) -> Gateway:
        self.state = _wait_for_file(self.home / "run" / "gateway.json", self.proc)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, self.err = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.err = self.proc.communicate()
            raise AssertionError(f"the gateway did not stop on SIGTERM: {self.err}") from None

    def health(self) -> dict:
        return _health(self.state["port"])


def test_an_allowed_slack_user_gets_the_crews_reply_and_a_stranger_gets_nothing(
    nanofolks_home, tmp_path, llm_server, slack
):
    with Gateway(nanofolks_home, tmp_path / "site", llm_server, slack, bot_token=slack.bot_token) as gateway:
        slack.wait_connected(timeout=60)
        slack.send_message("let me in, I am a stranger", user="U0002", channel="D0002")
        slack.send_message("hello crew", user="U0001", channel="D0001")
        posted = slack.wait_posted(1, timeout=60)
        time.sleep(0.5)  # room for a wrong extra reply to arrive
        health = gateway.health()
    err = gateway.err

    assert [p["channel"] for p in slack.posted] == ["D0001"]  # nothing to the stranger's chat
    assert "hello crew" in posted[0]["text"]  # the fake model echoes what the crew was asked
    assert posted[0]["mrkdwn"] is False
    sent_to_model = json.dumps([request["messages"] for request in llm_server.requests])
    assert "hello crew" in sent_to_model
    assert "stranger" not in sent_to_model  # the stranger cost no model call
    assert health["channels"]["slack"]["state"] == "running"
    assert gateway.proc.returncode == 0, err
    assert "U0002" in err and "allowFrom" in err  # the stranger is logged, with how to let them in
    assert slack.bot_token not in err and slack.app_token not in err


def test_a_rejected_bot_token_shows_in_channels_status_with_the_key_to_fix(nanofolks_home, tmp_path, llm_server, slack):
    with Gateway(nanofolks_home, tmp_path / "site", llm_server, slack, bot_token="xoxb-revoked-123") as gateway:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not gateway.health()["channels"]["slack"].get("lastError"):
            time.sleep(0.1)
        status = subprocess.run(
            [sys.executable, "-m", "nanofolks_core", "channels", "status"],
            env=gateway.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert "Slack rejected channels.slack.botToken (invalid_auth)" in status.stdout, status.stdout + status.stderr
    assert "xoxb-revoked-123" not in status.stdout + gateway.err
    assert slack.connections == 0
    assert gateway.proc.returncode == 0


def test_an_unset_app_token_variable_is_failed_once_not_retried(nanofolks_home, tmp_path, llm_server, slack):
    site = tmp_path / "site"
    gateway = Gateway(nanofolks_home, site, llm_server, slack, bot_token=slack.bot_token, app_token_set=False)
    with gateway:
        first = gateway.health()["channels"]["slack"]
        time.sleep(1.5)  # long enough for a first backoff restart, were there one
        later = gateway.health()["channels"]["slack"]
    assert first["state"] == later["state"] == "failed", later
    assert later["restarts"] == 0
    assert "TEST_SLACK_APP_TOKEN" in later["lastError"]
    assert slack.calls == []  # never got as far as asking Slack
    assert gateway.proc.returncode == 0, gateway.err
