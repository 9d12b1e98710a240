"""A read-only or full data folder: one clear error naming the folder, no traceback (issue 8, rows 7, 8).

Real file systems: the data folder is a small tmpfs, remounted read-only or filled up. Needs
root (or CAP_SYS_ADMIN) to mount; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from nanofolks_core.cli.environment_errors import describe_os_error, describe_sqlite_error

pytest.importorskip("nanofolks_provider_litellm")


@attrs.frozen
class Run:
    code: int
    out: str
    err: str


def run_cli(args: list[str], home: Path, **env: str) -> Run:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    proc = subprocess.run(
        [sys.executable, "-m", "nanofolks_core", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environ | {"NANOFOLKS_HOME": str(home)} | env,
        timeout=120,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MB tmpfs at a fresh folder, unmounted after the test."""
    point = tmp_path / "disk"
    point.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(point)):
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)")
    yield point
    subprocess.run(["umount", "-l", str(point)], capture_output=True)


@pytest.fixture
def crew_data(small_disk: Path, llm_server) -> Path:
    """A data folder on the small disk with one answered message in `general`."""
    home = small_disk / "home"
    home.mkdir()
    config = {
        "agents": {"defaults": {"model": "vllm/test-model"}},
        "providers": {"vllm": {"apiBase": llm_server.base_url, "maxRetries": 0}},
        "memory": {"enabled": False},
    }
    (home / "config.json").write_text(json.dumps(config))
    first = run_cli(["chat", "-m", "before the fault"], home)
    assert first.code == 0, first.err
    return home


def _assert_one_clear_error(run: Run, *words: str) -> None:
    assert run.code != 0, run.out
    assert "Traceback" not in run.err, run.err
    lines = [line for line in run.err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, run.err
    assert all(word in lines[0] for word in words), lines[0]


def test_read_only_data_folder(crew_data: Path, small_disk: Path):
    if not _mount("-o", "remount,ro", str(small_disk)):
        pytest.skip("cannot remount read-only here")
    for args in (["chat", "-m", "after the fault"], ["room", "create", "another"], ["team", "use", "pirate"]):
        run = run_cli(args, crew_data)
        _assert_one_clear_error(run, "read-only", str(small_disk))
    # Reading still works, and nothing stored was lost.
    history = run_cli(["room", "history", "general", "--json"], crew_data)
    assert history.code == 0, history.err
    assert [m["content"] for m in json.loads(history.out)] == ["before the fault", "[test-model] before the fault"]


def test_full_disk(crew_data: Path, small_disk: Path):
    filler = small_disk / "filler"
    with filler.open("wb") as out:  # take every free block
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    for args in (["chat", "-m", "after the fault " * 200], ["room", "create", "another"]):
        run = run_cli(args, crew_data)
        _assert_one_clear_error(run, "no space left", str(small_disk))
    filler.unlink()
    history = run_cli(["room", "history", "general", "--json"], crew_data)
    assert [m["content"] for m in json.loads(history.out)] == ["before the fault", "[test-model] before the fault"]
    assert run_cli(["chat", "-m", "space again"], crew_data).code == 0


def test_debug_shows_the_traceback(crew_data: Path, small_disk: Path):
    if not _mount("-o", "remount,ro", str(small_disk)):
        pytest.skip("cannot remount read-only here")
    run = run_cli(["room", "create", "another"], crew_data, NANOFOLKS_DEBUG="1")
    assert run.code != 0 and "Traceback" in run.err and "Error:" in run.err


def test_messages_name_the_file_and_the_fix(tmp_path: Path):
    import errno
    import sqlite3

    root = tmp_path / "data"
    full = describe_os_error(OSError(errno.ENOSPC, "No space left on device", str(root / "sessions" / "x")), root)
    assert full.startswith(f"no space left on the device holding {root / 'sessions' / 'x'}: free some space")
    denied = describe_os_error(PermissionError(errno.EACCES, "Permission denied", str(root)), root)
    assert f"chmod -R u+rwX {root}" in denied and "NANOFOLKS_HOME" in denied
    assert "quota" in describe_os_error(OSError(errno.EDQUOT, "Disk quota exceeded", "f"), root)
    # A real read-only database: the message names its file.
    database = tmp_path / "memory.db"
    sqlite3.connect(database).execute("create table t (x)").connection.commit()
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as info:
        connection.execute("insert into t values (1)")
    message = describe_sqlite_error(info.value, root)
    assert message.startswith(f"cannot write {database}: it is read-only")
