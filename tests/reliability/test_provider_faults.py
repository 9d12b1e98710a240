"""Provider failures are errors, and oversized input is refused (issue 8, rows 10, 12, 13, 14).

The real CLI in fresh processes, the real litellm provider, a local FakeLLMServer misbehaving.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import attrs
import pytest

from nanofolks_core.testing.llm_server import Reply

pytest.importorskip("nanofolks_provider_litellm")

LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


def cli_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    return env | {"NANOFOLKS_HOME": str(home)}


def run_cli(args: list[str], home: Path, stdin: bytes | None = None, timeout: float = 120) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        env=cli_env(home),
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def configure(home: Path, api_base: str, **provider: object) -> Path:
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": api_base, **provider}},
        "memory": {"enabled": False},
    }
    (home / "config.json").write_text(json.dumps(config))
    return home


def stored(home: Path, room: str = "general") -> list[dict]:
    run = run_cli(["room", "history", room, "--json"], home)
    assert run.code == 0, run.err
    return json.loads(run.out)


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "no-stream"])
def test_an_html_page_with_200_is_an_error_and_not_a_stored_reply(streaming, home, llm_server):
    configure(home, llm_server.base_url)
    llm_server.push(Reply(raw_body=LOGIN_PAGE))
    run = run_cli(["chat", "-m", "hello", *([] if streaming else ["--no-stream"])], home)
    assert run.code != 0
    assert f"the server at {llm_server.base_url} answered 200 with an HTML page, not a chat completion" in run.err
    assert "HTTP 500" not in run.err and "Traceback" not in run.err
    assert "(no answer)" not in run.out
    assert len(llm_server.requests) == 1  # not retried as if it were a 500
    assert not [m for m in stored(home) if m["role"] == "assistant"]


def test_a_hanging_server_fails_within_the_configured_bound(home, llm_server):
    configure(home, llm_server.base_url, timeout=3, readTimeout=2)
    llm_server.hang_next(600, times=5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanofolks_core", "chat", "-m", "hello"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(home),
    )
    try:
        deadline = time.monotonic() + 120
        while not llm_server.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        asked = time.monotonic()
        _, err = proc.communicate(timeout=60)
        waited = time.monotonic() - asked
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert waited < 3 + 5  # the bound, plus shutting down a loaded machine's process
    message = err.decode()
    assert f"no answer from {llm_server.base_url} within 3 s" in message
    assert "providers.vllm.timeout" in message and "Traceback" not in message
    assert "waiting for" not in message  # the wait counter is for terminals, never for a pipe or a log


def test_url_credentials_are_explained_and_never_shown(home):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing answers there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(home, f"http://admin:hunter2secret@127.0.0.1:{port}/v1", maxRetries=0)
    run = run_cli(["chat", "-m", "hello"], home)
    assert run.code != 0
    assert "apiBase has a user and password in it" in run.err
    assert "hunter2secret" not in run.err + run.out
    assert f"http://***@127.0.0.1:{port}/v1" in run.err


def test_a_megabyte_on_stdin_is_refused_and_nothing_is_stored(home, llm_server):
    configure(home, llm_server.base_url)
    before = run_cli(["chat", "-m", "a short one first"], home)
    assert before.code == 0, before.err
    run = run_cli(["chat", "--no-stream"], home, stdin=b"x" * 1_000_000 + b"\n")
    assert run.code != 0
    assert "too long for the model's context window" in run.err and "Traceback" not in run.err
    assert len(llm_server.requests) == 1  # only the short message went out
    assert [m["content"] for m in stored(home)] == ["a short one first", "[test-model] a short one first"]


def test_a_long_argument_is_refused_with_the_message(home, llm_server):
    configure(home, llm_server.base_url)
    run = run_cli(["chat", "-m", "word " * 24_000], home)
    assert run.code != 0
    assert "too long for the model's context window" in run.err and "Traceback" not in run.err
    assert not llm_server.requests
    assert stored(home) == []
