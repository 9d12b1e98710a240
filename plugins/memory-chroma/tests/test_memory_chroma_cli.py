"""``nanofolks memory status|search|forget`` through the real CLI (in-process and in a fresh process)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.api import MemoryEvent, NanofolksError, UsageError

MESSAGES = [
    ("dog", "home", "user", "My dog Rex loves the beach"),
    ("tax", "work", "user", "The quarterly tax report is due on Friday."),
    ("sam", "home", "user", "call me Sam, and shorter please"),
    ("reply", "home", "assistant", "Got it, Sam."),
    ("anna", "family", "user", "My sister Anna lives in Berlin"),
]


@pytest.fixture
def remembered(nanofolks_home: Path) -> Path:
    memory = ChromaMemory(data_root=nanofolks_home)
    for entry_id, room, role, text in MESSAGES:
        bot = "leader" if role != "user" else None
        memory.record(MemoryEvent(id=entry_id, room=room, role=role, text=text, bot=bot))
    memory.close()
    return nanofolks_home


def write_config(home: Path, data: dict) -> None:
    (home / "config.json").write_text(json.dumps(data))


def test_status_shows_counts_model_and_what_was_learned(cli_runner, remembered):
    result = cli_runner(["memory", "status"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "messages:     5 in 3 room(s)" in out and "vectors:      5" in out
    assert "embedding:    all-MiniLM-L6-v2" in out and f"{remembered / 'memory' / 'memory.db'}" in out
    assert "Call the user Sam." in out and "Keep answers short and concise." in out
    assert "Anna (person" in out
    data = json.loads(cli_runner(["memory", "status", "--json"]).output)
    assert (data["enabled"], data["messages"], data["preferences"]) == (True, 5, 2)


def test_search_ranks_by_meaning_with_json_limit_and_room(cli_runner, remembered):
    result = cli_runner(["memory", "search", "pet"])
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(" 1. [") and "#home" in first and "My dog Rex loves the beach" in first
    rows = json.loads(cli_runner(["memory", "search", "pet", "--json", "--limit", "2"]).output)
    assert len(rows) == 2 and rows[0]["id"] == "dog" and rows[0]["room"] == "home"
    assert rows[0]["score"] > rows[1]["score"] and rows[0]["date"][:2] == "20"
    rows = json.loads(cli_runner(["memory", "search", "pet", "--json", "--room", "work"]).output)
    assert [row["id"] for row in rows] == ["tax"]
    assert "No memories found in room nowhere." in cli_runner(["memory", "search", "pet", "--room", "nowhere"]).output


def test_forget_needs_confirmation_and_never_prompts_without_a_terminal(cli_runner, remembered):
    with pytest.raises(UsageError, match="no terminal to ask on; add --yes"):
        cli_runner(["memory", "forget", "dog"])
    result = cli_runner(["memory", "forget", "dog", "--yes"])
    assert result.exit_code == 0 and "Forgot 1 entry." in result.output
    rows = json.loads(cli_runner(["memory", "search", "pet", "--json"]).output)
    assert "dog" not in [row["id"] for row in rows]
    result = cli_runner(["memory", "forget", "--room", "home", "--yes"])
    assert "Forgot 2 entries." in result.output
    data = json.loads(cli_runner(["memory", "status", "--json"]).output)
    assert (data["messages"], data["vectors"], data["preferences"]) == (2, 2, 0)
    with pytest.raises(UsageError, match="no memory with id 'nope'"):
        cli_runner(["memory", "forget", "nope", "--yes"])
    with pytest.raises(UsageError, match="not both"):
        cli_runner(["memory", "forget", "tax", "--room", "work"])


def test_memory_off_is_reported(cli_runner, nanofolks_home):
    write_config(nanofolks_home, {"memory": {"enabled": False}})
    result = cli_runner(["memory", "status"])
    assert result.exit_code == 0 and result.output.startswith("Memory is off: memory is off (memory.enabled is false")
    with pytest.raises(NanofolksError, match="memory.enabled is false"):
        cli_runner(["memory", "search", "pet"])
    assert not (nanofolks_home / "memory").exists()


def test_another_configured_backend_is_named(cli_runner, nanofolks_home):
    write_config(nanofolks_home, {"memory": {"backend": "null"}})
    with pytest.raises(NanofolksError, match="memory.backend is 'null'"):
        cli_runner(["memory", "status"])


def run_in_terminal(args: list[str], home: Path, answer: bytes) -> tuple[int, str]:
    """Run the real CLI with a pseudo-terminal as stdin (so it may ask), answering ``answer``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")} | {"NANOFOLKS_HOME": str(home)}
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", *args],
            stdin=terminal,  # noqa: S603
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        os.write(controller, answer)
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(controller)
        os.close(terminal)
    return proc.returncode, out.decode()


def test_forget_asks_on_a_terminal(remembered):
    code, out = run_in_terminal(["memory", "forget", "--room", "family"], remembered, b"n\n")
    assert code == 1 and "Forget all 1 message(s) remembered from room family" in out and "Aborted" in out
    code, out = run_in_terminal(["memory", "forget", "--room", "family"], remembered, b"y\n")
    assert code == 0 and "Forgot 1 entry." in out
