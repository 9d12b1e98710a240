"""Damaged, unwritable and full memory folders, bad text and concurrent first use (issue 8 rows 4, 6-8, 11;
issue 7 item 6). Real SQLite and chromadb files on disk, the real local model, real processes."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nanofolks_memory_chroma.backend import ChromaMemory

from nanofolks_core.api import MemoryEvent, NanofolksError

TEXTS = ["My dog Rex loves the beach", "The quarterly tax report is due on Friday", "My sister Anna lives in Berlin"]


def remember(root: Path, texts=TEXTS) -> None:
    memory = ChromaMemory(data_root=root)
    for number, text in enumerate(texts):
        memory.record(MemoryEvent(id=f"m{number}", room="home", role="user", text=text))
    memory.close()


def damaged_copies(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.damaged-*"))


def test_a_garbage_memory_db_is_moved_aside_and_the_log_rebuilt_from_the_index(tmp_path, caplog):
    remember(tmp_path)
    database = tmp_path / "memory" / "memory.db"
    database.write_bytes(b"this is not a database" * 300)
    with caplog.at_level(logging.WARNING):
        memory = ChromaMemory(data_root=tmp_path)
    try:
        [moved] = damaged_copies(database.parent, "memory.db")
        assert moved.read_bytes().startswith(b"this is not a database")  # kept, never deleted
        warning = next(r.getMessage() for r in caplog.records if "memory.db was damaged" in r.getMessage())
        assert moved.name in warning and "\n" not in warning
        status = memory.status()
        assert status["messages"] == 3 and status["vectors"] == 3  # rebuilt from the search index
        assert "memory.db damaged" in status["repairs"][0]["problem"]
        assert memory.search("pet", limit=1)[0].text == "My dog Rex loves the beach"
        memory.record(MemoryEvent(id="new", room="home", role="user", text="I moved to Lisbon"))
        memory.flush()
        assert memory.status()["messages"] == 4
    finally:
        memory.close()


def test_a_truncated_chroma_store_is_moved_aside_and_doctor_repair_reindexes_the_log(tmp_path, caplog):
    remember(tmp_path)
    chroma = tmp_path / "memory" / "chroma"
    index = chroma / "chroma.sqlite3"
    index.write_bytes(index.read_bytes()[: index.stat().st_size // 3])
    with caplog.at_level(logging.WARNING):
        memory = ChromaMemory(data_root=tmp_path)
    try:
        [moved] = damaged_copies(chroma.parent, "chroma")
        assert (moved / "chroma.sqlite3").is_file()
        assert any("search index" in r.getMessage() and moved.name in r.getMessage() for r in caplog.records)
        checks = memory.doctor()
        assert [c.name for c in checks if not c.ok] == ["memory search index"]
        assert "3 logged message(s) are not searchable" in next(c.detail for c in checks if not c.ok)
        repaired = memory.doctor(repair=True)
        assert all(c.ok for c in repaired) and any(c.repaired for c in repaired)
        assert memory.search("pet", limit=1)[0].text == "My dog Rex loves the beach"
        assert all(c.ok and not c.repaired for c in memory.doctor())
    finally:
        memory.close()


def test_doctor_finds_and_restores_vectors_missing_from_the_index(tmp_path):
    remember(tmp_path)
    memory = ChromaMemory(data_root=tmp_path)
    try:
        memory.vectors.delete(["m0"])
        [log_check, index_check] = memory.doctor()
        assert log_check.ok and not index_check.ok and "1 logged message(s)" in index_check.detail
        assert memory.doctor(repair=True)[1].repaired
        assert memory.search("pet", limit=1)[0].id == "m0"
    finally:
        memory.close()


def test_memory_files_are_owner_only_and_old_modes_are_fixed_on_open(tmp_path):
    remember(tmp_path)
    folder = tmp_path / "memory"
    (folder / "memory.db").chmod(0o644)
    folder.chmod(0o755)
    remember(tmp_path, ["one more message"])
    for item in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(item.stat().st_mode)
        assert mode == (0o700 if item.is_dir() else 0o600), f"{item}: {oct(mode)}"


def test_lone_surrogates_never_reach_the_tokenizer_or_the_store(tmp_path):
    memory = ChromaMemory(data_root=tmp_path)
    try:
        memory.record(MemoryEvent(id="bad", room="home", role="user", text="caf\udce9 au lait"))
        memory.flush()
        [hit] = memory.search("caf\udce9", limit=1)
        assert hit.text == "caf\ufffd au lait"
        assert "caf" in asyncio.run(memory.context("caf\udce9", room="other", bot="leader", budget_tokens=400))
    finally:
        memory.close()


_FIRST_USE = """
import sys, time
from pathlib import Path
from nanofolks_memory_chroma.backend import ChromaMemory
from nanofolks_core.api import MemoryEvent
root, start, name = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
while time.time() < start:
    time.sleep(0.002)
memory = ChromaMemory(data_root=root)
memory.record(MemoryEvent(id=name, room="general", role="user", text="hello from " + name))
memory.close()
"""


def test_processes_starting_together_on_a_fresh_folder_all_succeed(tmp_path):
    start = time.time() + 6  # all import first, then open the fresh folder in the same instant
    procs = [
        subprocess.Popen([sys.executable, "-c", _FIRST_USE, str(tmp_path), str(start), f"p{n}"], stderr=subprocess.PIPE)
        for n in range(6)
    ]
    errors = [proc.communicate(timeout=300)[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, errors
    memory = ChromaMemory(data_root=tmp_path)
    try:
        status = memory.status()
        assert (status["messages"], status["vectors"], status["repairs"]) == (6, 6, [])
    finally:
        memory.close()


# -- unwritable and full folders (root: real read-only and tiny file systems) ------------------


def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None and _try_mount()


def _try_mount() -> bool:
    probe = Path(f"/tmp/nanofolks-memory-mount-probe-{os.getpid()}")
    probe.mkdir(exist_ok=True)
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
        if done.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return done.returncode == 0
    finally:
        probe.rmdir()


@pytest.fixture
def mounted(tmp_path):
    """``mount(folder, *options)``: a tmpfs or read-only bind mount on ``folder``, undone afterwards."""
    if not _can_mount():
        pytest.skip("needs root with mount to make a read-only or full file system")
    done: list[Path] = []

    def mount(folder: Path, *args: str) -> None:
        subprocess.run(["mount", *args, str(folder)], check=True)
        done.append(folder)

    yield mount
    for folder in reversed(done):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_read_only_memory_folder_leaves_memory_off_with_a_clear_reason(tmp_path, mounted, caplog):
    remember(tmp_path)
    folder = tmp_path / "memory"
    mounted(folder, "--bind", str(folder))
    subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
    with caplog.at_level(logging.WARNING):
        memory = ChromaMemory(data_root=tmp_path)
    try:
        assert memory.unavailable and str(folder) in memory.unavailable and "writable" in memory.unavailable
        memory.record(MemoryEvent(id="x", room="home", role="user", text="not stored"))  # no error
        assert asyncio.run(memory.context("pet", room="home", bot="leader", budget_tokens=400)) == ""
        with pytest.raises(NanofolksError, match="memory is off for this run"):
            memory.search("pet")
        assert memory.status()["unavailable"] == memory.unavailable
    finally:
        memory.close()
    assert any("memory is off for this run" in r.getMessage() for r in caplog.records)
    assert not damaged_copies(folder, "memory.db")  # unwritable is not damaged


def test_a_full_disk_costs_only_the_messages_that_did_not_fit(tmp_path, mounted, caplog):
    folder = tmp_path / "memory"
    folder.mkdir()
    mounted(folder, "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs")
    memory = ChromaMemory(data_root=tmp_path)
    try:
        memory.record(MemoryEvent(id="before", room="home", role="user", text="My dog Rex loves the beach"))
        memory.flush()
        filler = folder / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            with pytest.raises(OSError, match="No space left"):
                while True:
                    os.write(fd, b"x" * 65536)
        finally:
            os.close(fd)
        with caplog.at_level(logging.WARNING):
            for number in range(40):
                memory.record(MemoryEvent(id=f"full{number}", room="home", role="user", text="word " * 400))
            memory.flush()  # expected trouble: no exception
        assert memory.last_error and "full" in memory.last_error.lower()
        assert sum("could not store" in r.getMessage() for r in caplog.records) == 1  # said once
        filler.unlink()
        assert memory.search("pet", limit=1)[0].id == "before"  # what was stored is intact
    finally:
        memory.close()
