"""RoomStore: rooms, participants, channel mappings and damaged files, on real files and processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nanofolks_core.errors import NanofolksError, UsageError
from nanofolks_core.rooms import CREW_ROLES, RoomFileError, RoomStore, RoomType, validate_room_id
from nanofolks_core.sessions import validate_room

REPO = Path(__file__).resolve().parents[2]
TASK = (
    '{"id": "t1", "title": "a", "owner": null, "status": "todo", "priority": "low", "due": null, '
    '"created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:00+00:00"}'
)


@pytest.fixture
def store(tmp_path: Path) -> RoomStore:
    return RoomStore(tmp_path / "rooms")


def snapshot(root: Path) -> dict[str, bytes]:
    """Every stored file (lock files aside) with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".locks" not in p.parts
    }


# ---------------------------------------------------------------- rooms


def test_general_exists_by_default_with_only_the_leader(store):
    general = store.get("general")
    assert general.type is RoomType.OPEN
    assert general.participants == ("leader",)
    saved = json.loads((store.root / "general.json").read_text())
    assert saved["format"] == 1 and saved["id"] == "general" and saved["participants"] == ["leader"]
    assert [room.id for room in store.list()] == ["general"]


def test_a_room_keeps_the_exact_name_the_user_typed(store):
    created = store.create("project-alpha", participants=("researcher",), description="Website relaunch")
    assert created.id == "project-alpha"
    assert (store.root / "project-alpha.json").is_file()
    # A second store (another process, later) finds it under the same name.
    again = RoomStore(store.root).get("project-alpha")
    assert again == created
    assert again.type is RoomType.PROJECT and again.description == "Website relaunch"
    assert [room.id for room in store.list()] == ["general", "project-alpha"]


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Project Alpha", "project-alpha"),
        ("Q4 planning!", "q4-planning"),
        ("--Web Site--", "web-site"),
        ("", "my-room"),
        ("a" * 65, "a" * 64),
    ],
)
def test_an_invalid_room_name_suggests_a_valid_one(store, name, suggestion):
    with pytest.raises(UsageError, match="invalid room name") as info:
        store.create(name)
    assert repr(suggestion) in str(info.value)
    assert validate_room_id(suggestion) == suggestion
    assert not store.root.exists() or not list(store.root.glob("*.json"))


def test_room_ids_follow_the_session_store_rule():
    for good in ("general", "project-alpha", "q4_planning", "a", "0" * 64):
        assert validate_room_id(good) == validate_room(good)
    for bad in ("Project", "a b", "a/b", "../x", "x" * 65, "", "é"):
        with pytest.raises(UsageError):
            validate_room_id(bad)
        with pytest.raises(ValueError):
            validate_room(bad)


def test_the_mapping_file_name_cannot_be_a_room(store):
    with pytest.raises(UsageError, match="reserved"):
        store.create("channel_mappings")


def test_creating_an_existing_room_fails_and_changes_nothing(store):
    store.create("project-alpha", participants=("coder",))
    before = snapshot(store.root)
    with pytest.raises(UsageError, match="already exists"):
        store.create("project-alpha", participants=("researcher",))
    assert snapshot(store.root) == before


def test_unknown_room_says_how_to_create_it(store):
    store.create("project-alpha")
    with pytest.raises(UsageError) as info:
        store.get("project-alpah")
    message = str(info.value)
    assert "no room named 'project-alpah'" in message
    assert "nanofolks room create project-alpah" in message
    assert "did you mean 'project-alpha'" in message
    assert store.get_or_none("nowhere") is None


def test_participants_keep_order_drop_repeats_and_always_include_the_leader(store):
    room = store.create("launch", participants=("researcher", "@Coder", "researcher", "creative"))
    assert room.participants == ("leader", "researcher", "coder", "creative")
    room = store.invite("launch", "auditor", "coder", "social")
    assert room.participants == ("leader", "researcher", "coder", "creative", "auditor", "social")
    assert set(room.participants) == set(CREW_ROLES)


def test_unknown_bots_are_rejected_with_the_crew_listed(store):
    store.create("launch")
    before = snapshot(store.root)
    with pytest.raises(UsageError, match="Did you mean 'researcher'") as info:
        store.invite("launch", "reserch")
    assert "leader, researcher, coder, social, creative, auditor" in str(info.value)
    with pytest.raises(UsageError, match="unknown bot 'wizard'"):
        store.invite("launch", "coder", "wizard")  # one bad name: nobody is invited
    assert snapshot(store.root) == before


def test_add_participants_is_idempotent_and_writes_nothing_when_present(store):
    store.create("launch", participants=("coder",))
    path = store.path_for("launch")
    first = path.read_bytes()
    assert store.add_participants("launch", "coder", "leader").participants == ("leader", "coder")
    assert path.read_bytes() == first
    assert store.add_participants("launch", "researcher").participants == ("leader", "coder", "researcher")
    assert store.add_participants("general", "coder").participants == ("leader", "coder")


def test_the_leader_cannot_be_removed_but_others_can(store):
    store.create("launch", participants=("coder", "creative"))
    with pytest.raises(UsageError, match="leader stays"):
        store.remove("launch", "leader")
    with pytest.raises(UsageError, match="researcher is not in room 'launch'"):
        store.remove("launch", "researcher")
    assert store.remove("launch", "coder").participants == ("leader", "creative")
    assert store.get("launch").participants == ("leader", "creative")


def test_a_direct_room_has_exactly_one_bot(store):
    dm = store.create("ask-researcher", type="direct", participants=("researcher",))
    assert dm.type is RoomType.DIRECT and dm.participants == ("researcher",)
    assert store.invite("ask-researcher", "researcher").participants == ("researcher",)
    with pytest.raises(UsageError, match="exactly one bot"):
        store.invite("ask-researcher", "coder")
    with pytest.raises(UsageError, match="needs its one bot"):
        store.remove("ask-researcher", "researcher")
    with pytest.raises(UsageError, match="exactly one bot"):
        store.create("pair", type=RoomType.DIRECT, participants=("leader", "coder"))
    assert store.get("ask-researcher").participants == ("researcher",)
    assert store.create("ask-leader", type="DIRECT").participants == ("leader",)


def test_unknown_room_type_is_a_usage_error(store):
    with pytest.raises(UsageError, match="open, project, direct, coordination"):
        store.create("x", type="party")


def test_delete_removes_the_room_and_its_mappings_but_not_general(store):
    store.create("launch")
    store.map_channel("telegram", 42, "launch")
    store.map_channel("discord", "chan-9", "general")
    store.delete("launch")
    assert not store.path_for("launch").exists()
    assert store.get_or_none("launch") is None
    assert store.room_for_channel("telegram", 42) == "general"
    mappings = json.loads((store.root / "channel_mappings.json").read_text())
    assert mappings == {"format": 1, "channels": {"discord": {"chan-9": "general"}}}
    with pytest.raises(UsageError, match="cannot be deleted"):
        store.delete("general")
    with pytest.raises(UsageError, match="no room named 'launch'"):
        store.delete("launch")


# ---------------------------------------------------------------- channel mappings


def test_one_room_continues_across_channels(store):
    store.create("project-alpha")
    assert store.room_for_channel("telegram", 12345) == "general"
    store.map_channel("telegram", 12345, "project-alpha")
    store.map_channel("discord", "998877", "project-alpha")
    store.map_channel("cli", "local", "project-alpha")
    fresh = RoomStore(store.root)
    assert fresh.room_for_channel("telegram", "12345") == "project-alpha"  # int or str: same chat
    assert fresh.room_for_channel("Discord", 998877) == "project-alpha"
    assert fresh.room_for_channel("telegram", 999) == "general"
    assert fresh.channels_for("project-alpha") == [("cli", "local"), ("discord", "998877"), ("telegram", "12345")]
    fresh.unmap_channel("cli", "local")
    assert fresh.room_for_channel("cli", "local") == "general"


def test_mapping_to_a_missing_room_fails(store):
    with pytest.raises(UsageError, match="no room named 'ghost'"):
        store.map_channel("telegram", 1, "ghost")
    with pytest.raises(UsageError, match="chat id"):
        store.map_channel("telegram", "", "general")
    assert not (store.root / "channel_mappings.json").exists()


def test_a_mapping_left_pointing_at_a_removed_file_falls_back_to_general(store):
    store.create("gone")
    store.map_channel("slack", "C1", "gone")
    store.path_for("gone").unlink()  # e.g. deleted by hand
    assert store.room_for_channel("slack", "C1") == "general"


# ---------------------------------------------------------------- damaged files


def test_a_corrupt_room_file_is_reported_by_name_and_never_reset(store):
    store.create("good", participants=("coder",))
    store.create("broken")
    broken = store.path_for("broken")
    broken.write_text('{"format": 1, "id": "broken", "type": "pro', encoding="utf-8")
    before = snapshot(store.root)

    with pytest.raises(RoomFileError) as info:
        store.get("broken")
    assert str(broken) in str(info.value) and "not valid JSON" in str(info.value)
    assert isinstance(info.value, NanofolksError)
    for change in (
        lambda: store.invite("broken", "coder"),
        lambda: store.add_task("broken", "x"),
        lambda: store.create("broken"),
    ):
        with pytest.raises(NanofolksError):
            change()
    assert snapshot(store.root) == before

    # The other rooms are still there, and a listing says which file is damaged.
    assert store.get("good").participants == ("leader", "coder")
    found = store.scan()
    assert [room.id for room in found.rooms] == ["general", "good"]
    assert [problem.path for problem in found.problems] == [broken]
    with pytest.raises(RoomFileError, match="broken.json"):
        store.list()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"format": 2, "id": "x"}', "newer nanofolks"),
        ('{"id": "x"}', 'no "format" number'),
        ("[1, 2]", "JSON object"),
        (
            '{"format": 1, "id": "other", "type": "open", "participants": ["leader"], '
            '"created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:00+00:00"}',
            "file name says",
        ),
        (
            '{"format": 1, "id": "x", "type": "open", "participants": ["pirate"], '
            '"created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:00+00:00"}',
            "crew roles",
        ),
        (
            '{"format": 1, "id": "x", "type": "open", "participants": ["leader"], "tasks": [TASK, TASK], '
            '"created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:00+00:00"}',
            "task ids repeat",
        ),
        (
            '{"format": 1, "id": "x", "type": "open", "participants": ["leader"], "tasks": [{"id": "t1"}], '
            '"created_at": "2025-01-01T00:00:00+00:00", "updated_at": "2025-01-01T00:00:00+00:00"}',
            "not a valid room",
        ),
    ],
)
def test_invalid_room_files_name_the_problem(store, content, expected):
    store.root.mkdir(parents=True)
    (store.root / "x.json").write_text(content.replace("TASK", TASK), encoding="utf-8")
    with pytest.raises(RoomFileError, match=expected) as info:
        store.get("x")
    assert "x.json" in str(info.value)


def test_a_corrupt_mapping_file_is_reported_not_replaced(store):
    store.root.mkdir(parents=True)
    path = store.root / "channel_mappings.json"
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(RoomFileError, match="channel_mappings.json"):
        store.map_channel("telegram", 1, "general")
    with pytest.raises(RoomFileError):
        store.room_for_channel("telegram", 1)
    assert path.read_text() == "not json"


# ---------------------------------------------------------------- several processes

WORKER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from nanofolks_core.rooms import RoomStore

    root, room, bot, count, go = sys.argv[1:]
    store = RoomStore(Path(root))
    while not os.path.exists(go):
        time.sleep(0.001)
    store.invite(room, bot)
    for i in range(int(count)):
        task = store.add_task(room, f"{bot} task {i}", owner=bot)
        if i % 3 == 0:
            store.set_task_status(room, task.id, "in_progress")
        store.map_channel("test", f"{bot}-{i}", room)
        store.add_task("general", f"{bot} general {i}")
    """
)


def test_processes_changing_one_room_at_once_lose_nothing(tmp_path):
    root = tmp_path / "rooms"
    RoomStore(root).create("project-alpha")
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    bots, count = ("researcher", "coder", "creative", "auditor"), 20
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), "project-alpha", bot, str(count), str(go)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for bot in bots
    ]
    time.sleep(0.3)  # let every worker reach the start line
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    store = RoomStore(root)
    room = store.get("project-alpha")
    assert set(room.participants) == {"leader", *bots} and room.participants[0] == "leader"
    titles = {task.title for task in room.tasks}
    assert titles == {f"{bot} task {i}" for bot in bots for i in range(count)}
    ids = [task.id for task in room.tasks]
    assert sorted(ids, key=lambda t: int(t[1:])) == [f"t{n}" for n in range(1, len(bots) * count + 1)]
    in_progress = {task.title for task in room.tasks if task.status.value == "in_progress"}
    assert in_progress == {f"{bot} task {i}" for bot in bots for i in range(0, count, 3)}
    assert len(store.tasks("general")) == len(bots) * count
    assert all(store.room_for_channel("test", f"{bot}-{i}") == "project-alpha" for bot in bots for i in range(count))
    assert not [p.name for p in root.iterdir() if p.name.endswith(".tmp")]  # no temp file left behind
