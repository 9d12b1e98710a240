"""The real ``nanofolks gateway`` subprocess with WhatsApp enabled: against FakeBridge and the
fake LLM server, and with no WhatsApp login at all.

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
from contextlib import contextmanager

from nanofolks_whatsapp.testing import FakeBridge

ALLOWED = "+1234567890"
STRANGER = "+1999999999"


def _provider_entry_point(site) -> str:
    dist = site / "nanofolks_whatsapp_gateway_test-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nanofolks-whatsapp-gateway-test\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[nanofolks.plugins]\ntest-provider = nanofolks_core.testing.provider\n")
    return str(site)


def _health(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
        return json.loads(answer.read())


@contextmanager
def _gateway(home, tmp_path, llm_server, whatsapp: dict, extra_env: dict | None = None):
    """Run ``nanofolks gateway --port 0``; yields ``(proc, gateway.json)``; SIGTERM at the end,
    and ``proc.stderr_text`` holds what it logged."""
    config = {
        "agents": {"defaults": {"model": "local/test-model"}},
        "providers": {"local": {"apiBase": llm_server.base_url}},
        "memory": {"enabled": False},
        "channels": {"whatsapp": {"enabled": True, **whatsapp}},
    }
    (home / "config.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env |= {
        "NANOFOLKS_HOME": str(home),
        "NANOFOLKS_LOAD_PLUGINS": "whatsapp,test-provider",
        "PYTHONPATH": _provider_entry_point(tmp_path / "site"),
        **(extra_env or {}),
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
        deadline = time.monotonic() + 60
        state = None
        while state is None:
            if proc.poll() is not None:
                raise AssertionError(f"the gateway exited {proc.returncode}: {proc.communicate()[1]}")
            assert time.monotonic() < deadline, "the gateway did not write gateway.json in time"
            try:
                state = json.loads((home / "run" / "gateway.json").read_text())
            except (OSError, ValueError):
                time.sleep(0.05)
        yield proc, state
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, proc.stderr_text = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            raise AssertionError(f"the gateway did not stop on SIGTERM: {err}") from None


def test_an_allowed_number_gets_the_crews_reply_and_a_stranger_gets_nothing(nanofolks_home, tmp_path, llm_server):
    with FakeBridge() as bridge:
        whatsapp = {"allowFrom": [ALLOWED], "bridgeUrl": bridge.url, "bridgeToken": "env:TEST_WHATSAPP_BRIDGE_TOKEN"}
        with _gateway(nanofolks_home, tmp_path, llm_server, whatsapp, {"TEST_WHATSAPP_BRIDGE_TOKEN": bridge.token}) as (
            proc,
            state,
        ):
            assert bridge.wait_for_client(60)
            bridge.push_message("let me in, I am a stranger", sender=STRANGER, push_name="Eve")
            bridge.push_message("hello crew", sender=ALLOWED, push_name="Ada")
            sent = bridge.wait_for_sent(1, timeout=60)
            time.sleep(0.5)  # room for a wrong extra reply to arrive
            health = _health(state["port"])
        err = proc.stderr_text

    assert [s["to"] for s in bridge.sent] == ["1234567890@s.whatsapp.net"]  # nothing to the stranger's chat
    assert "hello crew" in sent[0]["text"]  # the fake model echoes what the crew was asked
    assert "1234567890@s.whatsapp.net" in bridge.typing  # "typing…" while the crew worked
    sent_to_model = json.dumps([request["messages"] for request in llm_server.requests])
    assert "hello crew" in sent_to_model
    assert "stranger" not in sent_to_model  # the stranger cost no model call
    assert health["channels"]["whatsapp"]["state"] == "running"
    assert proc.returncode == 0, err
    assert STRANGER in err and "allowFrom" in err  # the stranger is logged, with how to let them in
    assert bridge.token not in err


def test_without_a_whatsapp_login_the_gateway_runs_and_health_says_how_to_link(nanofolks_home, tmp_path, llm_server):
    with _gateway(nanofolks_home, tmp_path, llm_server, {"allowFrom": [ALLOWED]}) as (proc, state):
        deadline = time.monotonic() + 30
        while True:
            channel = _health(state["port"])["channels"]["whatsapp"]
            if channel.get("lastError") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert "nanofolks channels login whatsapp" in (channel.get("lastError") or ""), channel
    assert channel["state"] != "running"
    assert proc.returncode == 0, proc.stderr_text


def test_a_lost_whatsapp_connection_is_restarted_by_the_gateway(nanofolks_home, tmp_path, llm_server):
    reason = "Connection Failure"
    with FakeBridge() as bridge:
        whatsapp = {"allowFrom": [ALLOWED], "bridgeUrl": bridge.url, "bridgeToken": bridge.token}
        with _gateway(nanofolks_home, tmp_path, llm_server, whatsapp) as (proc, state):
            assert bridge.wait_for_client(60)
            bridge.push_status("disconnected", reason=reason)
            bridge.state = "connected"
            deadline = time.monotonic() + 30
            while bridge.connections < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            health = _health(state["port"])["channels"]["whatsapp"]
            bridge.push_message("still there?", sender=ALLOWED)
            sent = bridge.wait_for_sent(1, timeout=60)
    assert bridge.connections >= 2  # start() ended with the reason and the gateway started it again
    assert health["restarts"] >= 1 and reason in (health.get("lastError") or ""), health
    assert "still there?" in sent[0]["text"]
    assert proc.returncode == 0, proc.stderr_text
