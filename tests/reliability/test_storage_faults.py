"""Storage faults (issue 8, rows 1-3, 5, 7, 8, 11, 18): damage costs at most the damaged file,
nothing stored is deleted, and an unwritable or full data folder is one clear error.

Real files, real processes: the CLI runs in fresh processes against a local model server.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from nanofolks_core.errors import StorageError
from nanofolks_core.sessions import FileSessionStore, SessionMessage

pytest.importorskip("nanofolks_provider_litellm")


def fill(home: Path, room: str, count: int, text: str = "m") -> list[SessionMessage]:
    store = FileSessionStore(home / "sessions")
    sent = [SessionMessage("user", f"{text} {i}") for i in range(count)]
    for start in range(0, count, 50):  # in batches, as a busy room would: the head spills into segments
        store.append(room, *sent[start : start + 50])
    return sent


def room_dir(home: Path, room: str = "general") -> Path:
    return home / "sessions" / room


def segments(home: Path, room: str = "general") -> list[Path]:
    return sorted(room_dir(home, room).glob("seg-*.json"))


@pytest.fixture
def onboarded(home, nanofolks_proc, llm_server):
    run = nanofolks_proc(
        ["onboard", "--provider", "vllm", "--model", "test-model", "--api-base", llm_server.base_url], home
    )
    assert run.code == 0, run.err
    return home


def clean_run(run) -> None:
    assert "Traceback" not in run.err, run.err


# ---------------------------------------------------------------- row 1: cleanup


def test_cleanup_after_the_head_was_moved_aside_keeps_every_older_message(home, nanofolks_proc):
    fill(home, "general", 600)
    in_segments = [m["id"] for seg in segments(home) for m in json.loads(seg.read_bytes())["messages"]]
    assert len(in_segments) > 500
    stale = time.time() - 3 * 3600  # older than the sweep's age limit: only provability protects them
    for seg in segments(home):
        os.utime(seg, (stale, stale))
    (room_dir(home) / "head.json").rename(room_dir(home) / "head.json.moved")
    new = fill(home, "general", 300, "new")
    store = FileSessionStore(home / "sessions")
    store.cleanup(older_than=0)
    ids = [m.id for m in store.read("general")]
    assert ids == in_segments + [m.id for m in new]  # what the moved head did not hold, then the new
    assert (room_dir(home) / "head.json.moved").exists()
    history = nanofolks_proc(["room", "history", "general", "--limit", "0", "--json"], home)
    assert history.code == 0 and len(json.loads(history.out)) == len(in_segments) + 300


def test_cleanup_removes_only_what_is_provably_superseded(home):
    fill(home, "general", 300)
    folder = room_dir(home)
    stray_tmp = folder / ".tmp-head-killed.json"
    stray_tmp.write_text("half a head", encoding="utf-8")
    # an unreferenced segment holding a message the history does not have (an interrupted write)
    orphan = folder / "seg-0000000300-orphan.json"
    orphan.write_text(
        json.dumps(
            {
                "format": 1,
                "kind": "nanofolks.session.segment",
                "room": "general",
                "first_index": 300,
                "messages": [SessionMessage("user", "only copy").to_dict()],
            }
        ),
        encoding="utf-8",
    )
    assert FileSessionStore(home / "sessions").cleanup("general", older_than=0) == 1
    assert not stray_tmp.exists() and orphan.exists()


# ---------------------------------------------------------------- row 2: damaged segment


def test_a_truncated_segment_costs_only_that_segment(onboarded, nanofolks_proc, llm_server):
    fill(onboarded, "general", 600)
    oldest = segments(onboarded)[0]
    in_oldest = len(json.loads(oldest.read_bytes())["messages"])
    with open(oldest, "r+b") as fh:
        fh.truncate(len(fh.read()) // 2)
    store = FileSessionStore(onboarded / "sessions")
    contents = [m.content for m in store.read("general")]
    intact = len(contents) - (600 - in_oldest)  # the complete messages before the cut are read too
    assert 0 < intact < in_oldest
    assert contents == [f"m {i}" for i in range(intact)] + [f"m {i}" for i in range(in_oldest, 600)]
    total = len(contents)

    chat = nanofolks_proc(["chat", "-m", "still here?"], onboarded)
    clean_run(chat)
    assert chat.code == 0 and "[test-model] still here?" in chat.out
    assert oldest.name in chat.err and "nanofolks doctor --repair" in chat.err
    status = nanofolks_proc(["session", "status", "--json"], onboarded)
    clean_run(status)
    assert status.code == 0 and json.loads(status.out)["messages"] == total + 2
    history = nanofolks_proc(["room", "history", "general", "--limit", "0", "--json"], onboarded)
    assert history.code == 0 and len(json.loads(history.out)) == total + 2

    doctor = nanofolks_proc(["doctor"], onboarded)
    assert doctor.code == 1 and oldest.name in doctor.out and "--repair" in doctor.out
    repaired = nanofolks_proc(["doctor", "--repair"], onboarded)
    clean_run(repaired)
    assert repaired.code == 0, repaired.out
    assert not oldest.exists() and list(oldest.parent.glob(oldest.name + ".damaged-*"))  # moved, not deleted
    again = nanofolks_proc(["chat", "-m", "and now?"], onboarded)
    assert again.code == 0 and again.err.strip() == ""
    assert [m.content for m in store.read("general")][: total + 2] == contents + [
        "still here?",
        "[test-model] still here?",
    ]
    assert len(store.read("general")) == total + 4


# ---------------------------------------------------------------- row 3: damaged head


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[:100], lambda b: b"", lambda b: b"\x00garbage\xff" * 10],
    ids=["truncated", "emptied", "garbled"],
)
def test_a_damaged_head_is_moved_aside_and_the_room_rebuilt(onboarded, nanofolks_proc, llm_server, damage):
    fill(onboarded, "general", 600)
    head = room_dir(onboarded) / "head.json"
    original = head.read_bytes()
    head.write_bytes(damage(original))

    chat = nanofolks_proc(["chat", "-m", "are you there?"], onboarded)
    clean_run(chat)
    assert chat.code == 0 and "[test-model] are you there?" in chat.out
    moved = list(head.parent.glob("head.json.damaged-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == damage(original)  # renamed, never deleted
    warning = [line for line in chat.err.splitlines() if moved[0].name in line]
    assert len(warning) == 1 and str(head) in warning[0]
    contents = [m.content for m in FileSessionStore(onboarded / "sessions").read("general")]
    assert contents[:512] == [f"m {i}" for i in range(512)]  # every message the segments held
    assert contents[-2:] == ["are you there?", "[test-model] are you there?"]
    doctor = json.loads(nanofolks_proc(["doctor", "--json"], onboarded).out)
    assert [c["ok"] for c in doctor if c["name"] == "history general"] == [True]


# ---------------------------------------------------------------- row 5: text policy (store side)


def test_lone_surrogates_are_never_stored_and_old_ones_are_cleaned_on_read(home):
    store = FileSessionStore(home / "sessions")
    store.append("general", SessionMessage("user", "caf\udce9 ok"))
    raw = (room_dir(home) / "head.json").read_bytes()
    assert "caf\ufffd ok".encode() in raw and b"\\udce9" not in raw
    # a file written by an older version, holding the escaped surrogate
    head = json.loads(raw)
    head["messages"][0]["content"] = "caf\udce9 old"
    (room_dir(home) / "head.json").write_text(json.dumps(head, ensure_ascii=True), encoding="ascii")
    message = store.read("general")[0]
    assert message.content == "caf\ufffd old"
    message.content.encode("utf-8")  # can be sent in any later request


# ---------------------------------------------------------------- rows 7, 8: unwritable data folder


def _can_mount() -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path("/tmp") / f"nanofolks-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True)
        if ok.returncode == 0:
            subprocess.run(["umount", str(probe)], check=True)
        return ok.returncode == 0
    finally:
        probe.rmdir()


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs (root only), unmounted afterwards; ``remount_ro()`` makes it read-only."""
    if not _can_mount():
        pytest.skip("needs root with mount (tmpfs) to make a small or read-only file system")
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(where)], check=True)

    class Disk:
        path = where

        @staticmethod
        def remount_ro() -> None:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)

    yield Disk
    subprocess.run(["umount", "-l", str(where)], check=False)


def _make_read_only(home: Path, disk) -> None:
    if os.geteuid() == 0:
        disk.remount_ro()
    else:
        for folder, _dirs, _files in os.walk(home):
            os.chmod(folder, 0o500)


@pytest.fixture
def read_only_home(request, tmp_path):
    """A data folder with a room and history, then made read-only (chmod, or as root a tmpfs remount)."""
    if os.geteuid() == 0:
        disk = request.getfixturevalue("small_disk")
        home = disk.path / "home"
    else:
        disk, home = None, tmp_path / "home"
    home.mkdir()
    fill(home, "general", 20)
    yield home, disk
    if os.geteuid() != 0:
        for folder, _dirs, _files in os.walk(home):
            os.chmod(folder, 0o700)


def test_read_only_data_folder_gives_one_clear_error(read_only_home, nanofolks_proc, llm_server):
    home, disk = read_only_home
    onboard = nanofolks_proc(
        ["onboard", "--provider", "vllm", "--model", "test-model", "--api-base", llm_server.base_url], home
    )
    assert onboard.code == 0, onboard.err
    created = nanofolks_proc(["room", "create", "alpha"], home)
    assert created.code == 0
    _make_read_only(home, disk)
    before = FileSessionStore(home / "sessions").read("general")

    listed = nanofolks_proc(["room", "list"], home)
    clean_run(listed)
    assert listed.code == 0 and "alpha" in listed.out
    history = nanofolks_proc(["room", "history", "general", "--limit", "0", "--json"], home)
    assert history.code == 0 and len(json.loads(history.out)) == 20
    for args in (["room", "create", "beta"], ["room", "task", "add", "--room", "alpha", "x"]):
        run = nanofolks_proc(args, home)
        clean_run(run)
        assert run.code != 0 and str(home / "rooms") in run.err, run.err
        assert "read-only" in run.err or "permission denied" in run.err, run.err
    with pytest.raises(StorageError, match="read-only|permission denied") as info:
        FileSessionStore(home / "sessions").append("general", SessionMessage("user", "x"))
    assert str(room_dir(home)) in str(info.value)
    assert FileSessionStore(home / "sessions").read("general") == before


def test_a_full_disk_is_one_clear_error_and_leaves_nothing_half_written(small_disk):
    home = small_disk.path / "home"
    store = FileSessionStore(home / "sessions")
    store.append("general", SessionMessage("user", "first"))
    before = store.read("general")
    (small_disk.path / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 8192))  # the disk is full but for crumbs
    with pytest.raises(StorageError, match="no space left") as info:
        store.append("general", *[SessionMessage("user", "x" * 4000) for _ in range(60)])
    assert str(room_dir(home)) in str(info.value)
    assert store.read("general") == before
    assert not [p.name for p in room_dir(home).iterdir() if p.name.startswith(".tmp-")]


def test_disk_full_in_the_middle_of_a_write_removes_the_temp_files(home, monkeypatch):
    """Without root: ENOSPC from os.write, as a full disk gives it, half-way through the files."""
    store = FileSessionStore(home / "sessions")
    fill(home, "general", 250)
    before = store.read("general")
    files_before = {p.name for p in room_dir(home).iterdir()}
    real_write, calls = os.write, []

    def write(fd, data):
        calls.append(len(data))
        if len(calls) > 1:  # the first file (a segment) goes through, the next one does not
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(StorageError, match="no space left"):
        store.append("general", *[SessionMessage("user", f"n {i}") for i in range(10)])
    monkeypatch.setattr(os, "write", real_write)
    assert store.read("general") == before
    assert {p.name for p in room_dir(home).iterdir()} == files_before  # no new file, whole or half
    assert len(calls) >= 2


# ---------------------------------------------------------------- row 11: owner-only files


def test_files_the_core_writes_are_owner_only(onboarded, nanofolks_proc, llm_server):
    run = nanofolks_proc(["room", "create", "alpha"], onboarded)
    assert run.code == 0
    fill(onboarded, "alpha", 300)
    from nanofolks_core.pipeline.tool_outputs import ToolOutputStore

    outputs = ToolOutputStore(onboarded / "tool_outputs.db")
    outputs.put(room="alpha", bot="coder", tool="t", content="x" * 20000)
    outputs.close()
    checked = 0
    for base in (onboarded / "sessions", onboarded / "rooms", onboarded / "tool_outputs.db"):
        paths = [base, *base.rglob("*")] if base.is_dir() else [base]
        for path in paths:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
            checked += 1
    assert checked > 8


def test_doctor_repair_makes_loose_modes_owner_only(home, nanofolks_proc):
    fill(home, "general", 3)
    os.chmod(home / "sessions", 0o755)
    doctor = nanofolks_proc(["doctor"], home)
    assert doctor.code == 1 and "permissions" in doctor.out and str(home / "sessions") in doctor.out
    assert nanofolks_proc(["doctor", "--repair"], home).code == 0
    assert stat.S_IMODE((home / "sessions").stat().st_mode) == 0o700


# ---------------------------------------------------------------- row 18: names that look like options


def test_room_names_that_look_like_options_are_rejected(home, nanofolks_proc):
    run = nanofolks_proc(["room", "create", "--", "--help"], home)
    clean_run(run)
    assert run.code == 2 and "invalid room name '--help'" in run.err
    assert not (home / "rooms" / "--help.json").exists()


def test_doctor_repair_moves_a_damaged_room_file_aside_and_recreates_the_room(home, nanofolks_proc):
    assert nanofolks_proc(["room", "create", "alpha", "--bots", "coder"], home).code == 0
    FileSessionStore(home / "sessions").append(
        "alpha", SessionMessage("user", "hi"), SessionMessage("assistant", "hello", bot="coder")
    )
    room_file = home / "rooms" / "alpha.json"
    room_file.write_text('{"format": 1, "id": "al', encoding="utf-8")

    shown = nanofolks_proc(["room", "show", "alpha"], home)
    clean_run(shown)
    assert shown.code == 1 and str(room_file) in shown.err and "nanofolks doctor --repair" in shown.err
    check = nanofolks_proc(["doctor"], home)
    assert check.code == 1 and "FAIL" in check.out and str(room_file) in check.out
    repair = nanofolks_proc(["doctor", "--repair"], home)
    clean_run(repair)
    assert repair.code == 0 and "fixed  room file alpha.json" in repair.out, repair.out
    moved = list(room_file.parent.glob("alpha.json.damaged-*"))
    assert len(moved) == 1 and moved[0].read_text(encoding="utf-8") == '{"format": 1, "id": "al'
    shown = nanofolks_proc(["room", "show", "alpha", "--json"], home)
    assert shown.code == 0
    data = json.loads(shown.out)
    assert data["participants"] == ["leader", "coder"] and data["message_count"] == 2


def test_doctor_with_a_broken_config_still_checks_the_history(home, nanofolks_proc):
    fill(home, "general", 5)
    (home / "config.json").write_text('{"agents": {"defaults": {"temperature": "hot"}}}', encoding="utf-8")
    run = nanofolks_proc(["doctor", "--json"], home)
    clean_run(run)
    checks = {c["name"]: c for c in json.loads(run.out)}
    assert run.code == 1
    assert not checks["config"]["ok"] and "agents.defaults.temperature" in checks["config"]["detail"]
    assert checks["history general"]["ok"] and "5 messages" in checks["history general"]["detail"]
