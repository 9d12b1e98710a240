"""Memory and router stores under faults, through the real CLI in fresh processes (issue 8 rows 4, 6, 7, 11, 19).

Memory and routing are helps: a damaged or unwritable store costs a one-line warning, never a
reply and never a traceback. Damaged files are moved aside (renamed, never deleted), and
``memory status`` / ``memory doctor`` say what happened and rebuild what can be rebuilt.
Real SQLite and chromadb files, the litellm provider against a local FakeLLMServer.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nanofolks_memory_chroma")
pytest.importorskip("nanofolks_router")
pytest.importorskip("nanofolks_provider_litellm")

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture
def crew_home(home, llm_server):
    (home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "vllm/test-model"}},
                "providers": {"vllm": {"apiBase": llm_server.base_url}},
                # One tier with a model: the router is active and keeps routing.db.
                "routing": {"tiers": {"simple": {"model": "vllm/test-model"}}},
            }
        )
    )
    return home


@pytest.fixture
def chat(crew_home, nanofolks_proc):
    def run(*args: str, env: dict | None = None):
        # Generous: cold starts import litellm and chromadb, slow on a busy CI machine.
        result = nanofolks_proc(list(args), crew_home, env={**OFFLINE, **(env or {})}, timeout=600)
        assert "Traceback" not in result.err, result.err
        return result

    return run


def warnings_about(err: str, word: str) -> list[str]:
    return [line for line in err.splitlines() if word in line]


pytestmark = pytest.mark.timeout(1800)


def test_a_garbage_memory_db_costs_a_warning_and_memory_status_says_what_happened(crew_home, chat, llm_server):
    assert chat("chat", "-m", "My dog Rex loves the beach").code == 0
    assert chat("room", "create", "weekend").code == 0
    database = crew_home / "memory" / "memory.db"
    database.write_bytes(os.urandom(8192))

    first = chat("chat", "-m", "Hello again")
    assert first.code == 0 and "[test-model] Hello again" in first.out, first.err
    [warning] = warnings_about(first.err, "memory.db was damaged")
    [moved] = sorted(database.parent.glob("memory.db.damaged-*"))
    assert moved.name in warning and "room history is not affected" in warning
    assert len(moved.read_bytes()) == 8192  # moved aside, not deleted

    other = chat("chat", "--room", "weekend", "-m", "What does my pet like?")
    assert other.code == 0 and not warnings_about(other.err, "damaged"), other.err  # handled once
    # Rebuilt from the search index: the fact told before the damage still travels across rooms.
    assert "Rex" in llm_server.requests[-1]["messages"][0]["content"]
    assert chat("session", "status").code == 0

    status = chat("memory", "status")
    assert status.code == 0 and "Repairs" in status.out and "memory.db damaged" in status.out
    assert moved.name in status.out
    data = json.loads(chat("memory", "status", "--json").out)
    assert data["messages"] >= 4 and data["repairs"]


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def test_a_truncated_chroma_store_is_moved_aside_and_rebuilt_from_the_log(crew_home, chat):
    assert chat("chat", "-m", "My dog Rex loves the beach").code == 0
    chroma = crew_home / "memory" / "chroma"
    truncate(chroma / "chroma.sqlite3")

    run = chat("chat", "-m", "Tell me a joke")
    assert run.code == 0 and "[test-model] Tell me a joke" in run.out
    [warning] = warnings_about(run.err, "search index")
    assert "chroma.damaged-" in warning and "memory doctor --repair" in warning
    # The older messages were re-embedded from the event log while the crew chatted.
    found = json.loads(chat("memory", "search", "pet", "--json").out)
    assert found[0]["text"] == "My dog Rex loves the beach"

    truncate(chroma / "chroma.sqlite3")  # damaged again; this time repaired by hand, at once
    check = chat("memory", "doctor")
    assert check.code == 1 and "FAIL" in check.out and "not searchable" in check.out, check.out
    repair = chat("memory", "doctor", "--repair")
    assert repair.code == 0 and "fixed" in repair.out, repair.out
    found = json.loads(chat("memory", "search", "pet", "--json").out)
    assert found[0]["text"] == "My dog Rex loves the beach"
    assert chat("memory", "doctor").code == 0
    assert len(sorted(chroma.parent.glob("chroma.damaged-*"))) == 2  # both damaged copies kept


def test_a_garbage_routing_db_costs_a_warning_and_routing_goes_on(crew_home, chat):
    assert chat("chat", "-m", "hi").code == 0
    database = crew_home / "routing" / "routing.db"
    assert database.is_file()
    database.write_bytes(b"not a database at all " * 100)
    run = chat("chat", "-m", "hello there")
    assert run.code == 0 and "[test-model] hello there" in run.out
    [warning] = warnings_about(run.err, "routing.db was damaged")
    assert "routing.db.damaged-" in warning
    assert chat("routing", "analytics").code == 0
    assert chat("session", "status").code == 0


def test_invalid_utf8_with_memory_on_is_answered_and_remembered(crew_home, chat, nanofolks_proc):
    # Bytes that are not UTF-8 in argv reach Python as lone surrogates.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    env.update(NANOFOLKS_HOME=str(crew_home), **OFFLINE)
    done = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", "chat", "-m", b"caf\xe9 au lait"],
        env=env,
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0 and "Traceback" not in err, err
    found = json.loads(chat("memory", "search", "caf\ufffd au lait", "--json").out)
    assert any(hit["text"] == "caf\ufffd au lait" for hit in found)


def test_memory_and_routing_files_are_owner_only(crew_home, chat):
    assert chat("chat", "-m", "My sister Anna lives in Berlin").code == 0
    for folder in (crew_home / "memory", crew_home / "routing"):
        for item in [folder, *folder.rglob("*")]:
            mode = stat.S_IMODE(item.stat().st_mode)
            assert mode == (0o700 if item.is_dir() else 0o600), f"{item}: {oct(mode)}"


def test_memory_forget_without_arguments_says_what_to_give(crew_home, chat):
    run = chat("memory", "forget")
    assert run.code == 2 and "not both" not in run.err
    assert "memory id" in run.err and "--room ROOM" in run.err


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(f"/tmp/nanofolks-memfault-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
        if done.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return done.returncode == 0
    finally:
        probe.rmdir()


def test_read_only_memory_and_routing_folders_leave_the_crew_answering(crew_home, chat):
    if not _can_mount():
        pytest.skip("needs root with mount to make a read-only file system")
    assert chat("chat", "-m", "My dog Rex loves the beach").code == 0
    folders = [crew_home / "memory", crew_home / "routing"]
    mounted = []
    try:
        for folder in folders:
            subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
            mounted.append(folder)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        run = chat("chat", "-m", "Are you there?")
        status = chat("memory", "status")
    finally:
        for folder in reversed(mounted):
            subprocess.run(["umount", "-l", str(folder)], check=False)
    assert run.code == 0 and "[test-model] Are you there?" in run.out, run.err
    assert warnings_about(run.err, "memory is off for this run") and warnings_about(run.err, "routing goes on")
    assert status.code == 0 and "memory is off for this run" in status.out
