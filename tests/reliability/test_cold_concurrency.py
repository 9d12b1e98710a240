"""Many ``nanofolks chat -m`` processes started at once into a fresh data folder (issue 7, item 6).

First use creates memory.db, the chromadb store and routing.db; before they were created under
a lock between processes, a few of such runs died with ``table collections already exists``.
Real processes, real SQLite and chromadb on disk, the litellm provider against a local
FakeLLMServer. Every run must answer, and every user message and reply must be in the room's
history afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("nanofolks_memory_chroma")
pytest.importorskip("nanofolks_router")
pytest.importorskip("nanofolks_provider_litellm")


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env.update(NANOFOLKS_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def run_cold_burst(home: Path, base_url: str, processes: int, runs_each: int) -> dict:
    """``processes`` workers each run ``runs_each`` chats back to back, all starting together."""
    (home / "config.json").write_text(
        json.dumps({"agents": {"defaults": {"model": "vllm/test-model"}}, "providers": {"vllm": {"apiBase": base_url}}})
    )
    env = _environment(home)
    start = time.monotonic()

    def worker(proc: int) -> list[tuple[str, int, str]]:
        failures = []
        for run in range(runs_each):
            text = f"cold message {proc}-{run}"
            done = subprocess.run(
                [sys.executable, "-m", "nanofolks_core", "chat", "-m", text],
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=300,
            )
            if done.returncode != 0 or "Traceback" in done.stderr:
                failures.append((text, done.returncode, done.stderr[-2000:]))
        return failures

    with ThreadPoolExecutor(processes) as pool:
        failures = [item for batch in pool.map(worker, range(processes)) for item in batch]
    seconds = time.monotonic() - start
    history = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "room", "history", "general", "--json", "--limit", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert history.returncode == 0, history.stderr
    contents = [message["content"] for message in json.loads(history.stdout)]
    sent = [f"cold message {p}-{r}" for p in range(processes) for r in range(runs_each)]
    return {
        "runs": processes * runs_each,
        "failed": failures,
        "lost_messages": [text for text in sent if text not in contents],
        "lost_replies": [text for text in sent if f"[test-model] {text}" not in contents],
        "duplicated": [text for text in sent if contents.count(text) > 1],
        "seconds": round(seconds, 1),
    }


def _check(result: dict) -> None:
    assert not result["failed"], f"{len(result['failed'])} of {result['runs']} runs failed: {result['failed'][:2]}"
    assert not result["lost_messages"] and not result["lost_replies"], result
    assert not result["duplicated"], result


def _memory_files_ok(home: Path, expected_messages: int) -> None:
    status = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "memory", "status", "--json"],
        env=_environment(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    # Every user message and reply reached the memory log too, and is searchable.
    assert data["messages"] == expected_messages and data["vectors"] == expected_messages, data
    assert not data["repairs"], data["repairs"]  # nothing was mistaken for damage


@pytest.mark.timeout(1200)  # a dozen cold starts (litellm and chromadb imports) on a busy machine
def test_concurrent_cold_chats_all_answer_and_lose_nothing(home, llm_server):
    result = run_cold_burst(home, llm_server.base_url, processes=4, runs_each=3)
    _check(result)
    _memory_files_ok(home, 2 * result["runs"])


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_six_by_fifteen_concurrent_cold_chats(home, llm_server):
    """The figure from issue 7: 6 processes x 15 runs, 0 failed, 0 lost."""
    result = run_cold_burst(home, llm_server.base_url, processes=6, runs_each=15)
    print(f"6 x 15 cold chat -m: {result['runs']} runs in {result['seconds']} s, {len(result['failed'])} failed")
    _check(result)
    _memory_files_ok(home, 2 * result["runs"])
