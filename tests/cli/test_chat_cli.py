"""A new user's first minutes, in fresh processes, through the real litellm provider.

The model is a local OpenAI-compatible server started by the test on 127.0.0.1.
"""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("nanofolks_provider_litellm")


def test_no_config_no_key_fails_fast_with_how_to_configure(home, nanofolks_proc):
    started = time.perf_counter()
    run = nanofolks_proc(["chat", "-m", "Hello"], home)
    elapsed = time.perf_counter() - started
    assert run.code != 0
    assert elapsed < 2.0
    assert "nanofolks onboard" in run.err and "agents.defaults.model" in run.err
    assert "Traceback" not in run.err


@pytest.fixture
def onboarded(home, nanofolks_proc, llm_server):
    started = time.perf_counter()
    run = nanofolks_proc(
        [
            "onboard",
            "--provider",
            "vllm",
            "--model",
            "test-model",
            "--api-base",
            llm_server.base_url,
            "--team",
            "pirate",
        ],
        home,
    )
    assert run.code == 0, run.err
    assert time.perf_counter() - started < 5.0
    config = json.loads((home / "config.json").read_text())
    assert config["agents"]["defaults"]["model"] == "vllm/test-model"
    assert config["providers"]["vllm"]["apiBase"] == llm_server.base_url
    assert config["team"] == "pirate"
    assert all((home / "workspace" / folder).is_dir() for folder in ("identity", "role", "soul", "bots", "skills"))
    return home


def test_hello_gets_the_models_reply_with_one_request(onboarded, nanofolks_proc, llm_server):
    run = nanofolks_proc(["chat", "-m", "Hello"], onboarded)
    assert run.code == 0, run.err
    assert "[test-model] Hello" in run.out
    assert len(llm_server.requests) == 1


def test_mention_all_and_history(onboarded, nanofolks_proc, llm_server):
    run = nanofolks_proc(["chat", "-m", "@coder fix this bug"], onboarded)
    assert run.code == 0, run.err
    coder_request = llm_server.requests[-1]
    assert coder_request["messages"][0]["content"].startswith("You are Shipwright Sawyer")  # the pirate Coder
    assert run.out.splitlines()[0].startswith("🔨 Shipwright Sawyer: [test-model] @coder fix this bug")

    invite = nanofolks_proc(["room", "invite", "general", "researcher", "social", "creative", "auditor"], onboarded)
    assert invite.code == 0, invite.err
    before = len(llm_server.requests)
    run = nanofolks_proc(["chat", "-m", "@all brainstorm names for a cat cafe", "--no-stream"], onboarded)
    assert run.code == 0, run.err
    assert len(llm_server.requests) - before == 6
    speakers = [line.split(":")[0] for line in run.out.splitlines() if "[test-model] @all" in line]
    assert len(speakers) == 6 and len(set(speakers)) == 6

    nanofolks_proc(["chat", "-m", "Which name did you like best?"], onboarded)
    sent = [m["content"] for m in llm_server.requests[-1]["messages"]]
    assert "@coder fix this bug" in sent and "@all brainstorm names for a cat cafe" in sent

    history = json.loads(nanofolks_proc(["room", "history", "general", "--json"], onboarded).out)
    assert [m["role"] for m in history[:2]] == ["user", "assistant"]
    assert history[1]["bot"] == "coder"


def test_disabling_the_team_plugin_keeps_the_crew_talking(onboarded, nanofolks_proc, llm_server):
    assert nanofolks_proc(["plugins", "disable", "team-pirate"], onboarded).code == 0
    teams = json.loads(nanofolks_proc(["team", "list", "--json"], onboarded).out)
    assert "pirate" not in [t["name"] for t in teams]
    run = nanofolks_proc(["chat", "-m", "Hello"], onboarded)
    assert run.code == 0, run.err
    assert "[test-model] Hello" in run.out
    assert "team 'pirate' is not available" in run.err


def test_piped_interactive_chat_reads_lines(onboarded, nanofolks_proc, llm_server, tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")} | {"NANOFOLKS_HOME": str(onboarded)}
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "chat", "--no-stream"],
        input="Hi\n@coder ping\n/exit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[test-model] Hi" in proc.stdout
    assert "[test-model] @coder ping" in proc.stdout
