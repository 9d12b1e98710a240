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


def test_an_allowed_slack_user_gets_the_crews_reply_and_a_stranger_gets_nothing(
    nanofolks_home, tmp_path, llm_server, slack
):
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
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env |= {
        "NANOFOLKS_HOME": str(nanofolks_home),
        "NANOFOLKS_LOAD_PLUGINS": "slack,test-provider",
        "PYTHONPATH": _provider_entry_point(tmp_path / "site"),
        "TEST_SLACK_BOT_TOKEN": slack.bot_token,
        "TEST_SLACK_APP_TOKEN": slack.app_token,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = _wait_for_file(nanofolks_home / "run" / "gateway.json", proc)
        slack.wait_connected(timeout=60)

        slack.send_message("let me in, I am a stranger", user="U0002", channel="D0002")
        slack.send_message("hello crew", user="U0001", channel="D0001")
        posted = slack.wait_posted(1, timeout=60)
        time.sleep(0.5)  # room for a wrong extra reply to arrive
        health = _health(state["port"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"the gateway did not stop on SIGTERM: {err}") from None

    assert [p["channel"] for p in slack.posted] == ["D0001"]  # nothing to the stranger's chat
    assert "hello crew" in posted[0]["text"]  # the fake model echoes what the crew was asked
    assert posted[0]["mrkdwn"] is False
    sent_to_model = json.dumps([request["messages"] for request in llm_server.requests])
    assert "hello crew" in sent_to_model
    assert "stranger" not in sent_to_model  # the stranger cost no model call
    assert health["channels"]["slack"]["state"] == "running"
    assert proc.returncode == 0, err
    assert "U0002" in err and "allowFrom" in err  # the stranger is logged, with how to let them in
    assert slack.bot_token not in err and slack.app_token not in err
