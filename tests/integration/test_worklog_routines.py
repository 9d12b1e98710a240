"""Issue 11 end to end: a routine fired by a real gateway is a turn in the work log, a routine run in
``nanofolks metrics`` and on ``/metrics``, and the model-call count matches what the server received."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest

from nanofolks_core.testing.gateway import GatewayProcess, cli_env

pytest.importorskip("nanofolks_routines")
pytest.importorskip("nanofolks_worklog")
pytest.importorskip("nanofolks_provider_litellm")


def test_a_routine_run_is_logged_and_counted(tmp_path, llm_server):
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm_server.base_url}},
    }
    (home / "config.json").write_text(json.dumps(config))
    env = cli_env(home, NANOFOLKS_LOAD_PLUGINS="provider-litellm,routines,worklog", LITELLM_LOCAL_MODEL_COST_MAP="True")

    def nanofolks(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "nanofolks_core", *args], env=env, capture_output=True,
                              text=True, timeout=180, stdin=subprocess.DEVNULL)  # fmt: skip

    added = nanofolks("routines", "add", "--name", "tick", "--message", "tick tock", "--every", "5")
    assert added.returncode == 0, added.stderr
    gateway = GatewayProcess(home)
    gateway.env = env
    with gateway:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            turns = json.loads(nanofolks("worklog", "list", "--kind", "turn", "--json").stdout)
            if turns:
                break
            time.sleep(0.5)
        removed = nanofolks("routines", "remove", "tick")
        assert removed.returncode == 0, removed.stderr
        time.sleep(1)  # a run started just before the removal may still finish
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway.state['port']}/metrics", timeout=10) as answer:  # noqa: S310
            scraped = answer.read().decode()
    requests = len(llm_server.requests)  # the gateway has stopped: no more model calls
    assert turns, gateway.log()
    turn = turns[-1]
    assert (turn["routine"], turn["channel"], turn["room"]) == ("tick", "routine", "general")
    assert "tick tock" in turn["summary"]
    total = json.loads(nanofolks("metrics", "--json").stdout)["total"]
    assert total["routine_runs"] == total["messages"] >= 1
    assert total["model_calls"] == requests
    assert 'nanofolks_turns_total{room="general",channel="routine",routine="true"}' in scraped
