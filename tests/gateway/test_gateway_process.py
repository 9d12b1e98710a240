"""``nanofolks gateway`` as a real process: signals, one gateway per home, a taken port, status."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from gateway_helpers import GatewayProcess, get_json, install_test_channel

from nanofolks_core.sessions import FileSessionStore
from nanofolks_core.testing import Reply


@pytest.fixture
def gateway_env(tmp_path, nanofolks_home, llm_server, chat_app):
    """config.json with the installed test channel enabled; returns the subprocess environment."""
    env = install_test_channel(tmp_path / "site")
    config = {
        "agents": {"defaults": {"model": "local/test-model"}},
        "providers": {"local": {"apiBase": llm_server.base_url}},
        "channels": {"testchat": {"enabled": True, "allowFrom": ["ada"], "port": chat_app.port}},
        "gateway": {"port": 0},
    }
    (nanofolks_home / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return env


def _history(home):
    return [m.content for m in FileSessionStore(home / "sessions").read("general")]


def test_sigterm_during_a_slow_reply_lets_it_finish_and_exits_cleanly(
    gateway_env, nanofolks_home, llm_server, chat_app
):
    llm_server.push(Reply(content="a slow but complete answer", delay=2.0))
    gateway = GatewayProcess(nanofolks_home, gateway_env)
    state = gateway.wait_ready()
    assert state["pid"] == gateway.proc.pid and state["port"] > 0
    assert get_json(state["port"])[1]["channels"]["testchat"]["state"] in ("starting", "running")

    chat_app.say("testchat", "take your time", sender="ada", chat="c1")
    chat_app.wait_for(lambda: len(llm_server.requests) == 1, "the model call to start")
    gateway.proc.send_signal(signal.SIGTERM)
    code, _, err = gateway.finish()

    assert code == 0, err
    assert "Traceback" not in err
    assert not (nanofolks_home / "run" / "gateway.json").exists()
    # The turn in flight was let finish: stored whole and delivered, never half.
    assert _history(nanofolks_home) == ["take your time", "a slow but complete answer"]
    assert [d["send"].split(": ", 1)[1] for d in chat_app.sent("c1")] == ["a slow but complete answer"]
    status = gateway.nanofolks("gateway", "status")
    assert status.returncode == 1 and "no gateway is running for" in status.stdout


def test_status_reports_a_running_gateway_and_a_second_one_is_refused(gateway_env, nanofolks_home):
    gateway = GatewayProcess(nanofolks_home, gateway_env)
    state = gateway.wait_ready()
    try:
        status = gateway.nanofolks("gateway", "status", "--json")
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)
        assert shown["running"] is True and shown["pid"] == gateway.proc.pid
        assert shown["health"]["status"] == "ok" and "testchat" in shown["health"]["channels"]
        text = gateway.nanofolks("channels", "status")
        assert text.returncode == 0 and "testchat" in text.stdout

        second = gateway.nanofolks("gateway", "--port", "0")
        assert second.returncode != 0
        assert second.stderr.strip() == f"Error: a gateway is already running for {nanofolks_home} (pid {state['pid']})"
    finally:
        gateway.proc.send_signal(signal.SIGINT)
        code, _, err = gateway.finish()
    assert code == 0, err


def test_a_port_in_use_is_one_line_naming_the_port_and_how_to_choose(gateway_env, nanofolks_home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        gateway = GatewayProcess(nanofolks_home, gateway_env, "--port", str(port))
        code, _, err = gateway.finish()
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"port {port}" in lines[0] and "--port" in lines[0] and "gateway.port" in lines[0]
    assert not (nanofolks_home / "run" / "gateway.json").exists()


def test_a_state_file_left_by_a_dead_gateway_is_not_running_and_is_cleaned(nanofolks_home):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_dir = nanofolks_home / "run"
    run_dir.mkdir(mode=0o700)
    (run_dir / "gateway.json").write_text(json.dumps({"pid": dead.pid, "port": 9, "socket": None}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env["NANOFOLKS_HOME"] = str(nanofolks_home)
    status = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "gateway", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 1
    assert status.stdout.strip() == f"no gateway is running for {nanofolks_home}"
    assert not (run_dir / "gateway.json").exists()


def test_a_host_it_cannot_listen_on_is_one_line_naming_the_key(gateway_env, nanofolks_home):
    gateway = GatewayProcess(nanofolks_home, gateway_env, "--host", "192.0.2.1", "--port", "0")
    code, _, err = gateway.finish()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot listen on 192.0.2.1:0"), err
    assert "gateway.host" in lines[0]
