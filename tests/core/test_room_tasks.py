"""Room tasks through RoomStore: ids, owners, status, priority, due dates and handoff history."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from nanofolks_core.errors import UsageError
from nanofolks_core.rooms import RoomStore, TaskPriority, TaskStatus


@pytest.fixture
def store(tmp_path: Path) -> RoomStore:
    rooms = RoomStore(tmp_path / "rooms")
    rooms.create("project-alpha", participants=("researcher",))
    return rooms


def stored(store: RoomStore, room_id: str = "project-alpha") -> bytes:
    return store.path_for(room_id).read_bytes()


def test_tasks_get_short_ids_in_order_and_sensible_defaults(store):
    first = store.add_task("project-alpha", "Ship landing page")
    second = store.add_task(
        "project-alpha", "  Write   the launch post ", owner="researcher", priority="HIGH", due="2025-01-15"
    )
    assert (first.id, second.id) == ("t1", "t2")
    assert first.owner is None and first.status is TaskStatus.TODO and first.priority is TaskPriority.MEDIUM
    assert first.due is None
    assert second.title == "Write the launch post"
    assert second.owner == "researcher" and second.priority is TaskPriority.HIGH and second.due == date(2025, 1, 15)
    assert [(e.kind, e.from_, e.to) for e in second.history] == [("created", None, "researcher")]
    assert [t.id for t in RoomStore(store.root).tasks("project-alpha")] == ["t1", "t2"]


def test_task_ids_are_per_room_and_never_reused(store):
    store.create("other")
    assert store.add_task("other", "a").id == "t1"
    for title in ("a", "b", "c"):
        store.add_task("project-alpha", title)
    # Simulate a task removed by hand: the counter in the file still moves on.
    data = json.loads(stored(store))
    data["tasks"] = data["tasks"][:2]
    store.path_for("project-alpha").write_text(json.dumps(data))
    assert store.add_task("project-alpha", "d").id == "t4"
    assert store.add_task("other", "b").id == "t2"


def test_an_owner_not_in_the_room_joins_it(store):
    store.add_task("project-alpha", "Ship landing page", owner="coder")
    assert store.get("project-alpha").participants == ("leader", "researcher", "coder")


def test_a_direct_room_only_has_tasks_for_its_bot(store):
    store.create("ask-coder", type="direct", participants=("coder",))
    assert store.add_task("ask-coder", "Fix login", owner="coder").owner == "coder"
    before = stored(store, "ask-coder")
    with pytest.raises(UsageError, match="direct room with coder only"):
        store.add_task("ask-coder", "Write copy", owner="creative")
    with pytest.raises(UsageError, match="direct room"):
        store.handoff_task("ask-coder", "t1", "creative")
    assert stored(store, "ask-coder") == before


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ("2025-13-45", "month must be in 1..12"),
        ("2025-02-30", "day is out of range"),
        ("15/01/2025", "YYYY-MM-DD"),
        ("tomorrow", "YYYY-MM-DD"),
        ("20250115", "YYYY-MM-DD"),
    ],
)
def test_a_bad_due_date_is_explained_and_nothing_is_stored(store, due, expected):
    before = stored(store)
    with pytest.raises(UsageError, match=expected) as info:
        store.add_task("project-alpha", "Ship", due=due)
    assert repr(due) in str(info.value) and "2025-01-15" in str(info.value)
    assert stored(store) == before


def test_bad_titles_priorities_and_owners_are_rejected(store):
    before = stored(store)
    with pytest.raises(UsageError, match="needs a title"):
        store.add_task("project-alpha", "   ")
    with pytest.raises(UsageError, match="low, medium, high, urgent"):
        store.add_task("project-alpha", "x", priority="asap")
    with pytest.raises(UsageError, match="unknown bot 'intern'"):
        store.add_task("project-alpha", "x", owner="intern")
    with pytest.raises(UsageError, match="at most 500"):
        store.add_task("project-alpha", "x" * 501)
    assert stored(store) == before


def test_status_changes_are_recorded_once(store):
    task = store.add_task("project-alpha", "Ship")
    assert store.set_task_status("project-alpha", task.id, "in-progress").status is TaskStatus.IN_PROGRESS
    unchanged = stored(store)
    store.set_task_status("project-alpha", "t1", TaskStatus.IN_PROGRESS)  # already: nothing to record
    assert stored(store) == unchanged
    store.set_task_status("project-alpha", "T1", "done")
    history = store.task_history("project-alpha", "1")
    assert [(e.kind, e.from_, e.to) for e in history] == [
        ("created", None, None),
        ("status", "todo", "in_progress"),
        ("status", "in_progress", "done"),
    ]
    with pytest.raises(UsageError, match="todo, in_progress, blocked, done"):
        store.set_task_status("project-alpha", "t1", "finished")


def test_assign_and_handoff_record_who_had_it_and_why(store):
    store.add_task("project-alpha", "Ship landing page", owner="coder", priority="high")
    store.assign_task("project-alpha", "t1", "researcher", reason="Needs deep research")
    store.handoff_task("project-alpha", "t1", "creative", reason="Shift to design phase")
    task = store.task("project-alpha", "t1")
    assert task.owner == "creative"
    assert [(e.kind, e.from_, e.to, e.reason) for e in task.history] == [
        ("created", None, "coder", None),
        ("assigned", "coder", "researcher", "Needs deep research"),
        ("handoff", "researcher", "creative", "Shift to design phase"),
    ]
    assert store.get("project-alpha").participants == ("leader", "researcher", "coder", "creative")
    # Assigning the current owner again records nothing.
    before = stored(store)
    store.assign_task("project-alpha", "t1", "creative", reason="again")
    assert stored(store) == before


def test_handoff_needs_an_owner_and_a_different_one(store):
    store.add_task("project-alpha", "Unowned")
    store.add_task("project-alpha", "Owned", owner="researcher")
    before = stored(store)
    with pytest.raises(UsageError, match="no owner to hand it off.*room task assign --room project-alpha t1 coder"):
        store.handoff_task("project-alpha", "t1", "coder")
    with pytest.raises(UsageError, match="already owned by researcher"):
        store.handoff_task("project-alpha", "t2", "researcher")
    assert stored(store) == before
    assigned = store.assign_task("project-alpha", "t1", "coder")
    assert [(e.kind, e.from_, e.to, e.reason) for e in assigned.history][-1] == ("assigned", None, "coder", None)


def test_an_unknown_task_id_says_how_to_see_the_ids(store):
    store.add_task("project-alpha", "Ship")
    for change in (
        lambda: store.set_task_status("project-alpha", "t9", "done"),
        lambda: store.assign_task("project-alpha", "t9", "coder"),
        lambda: store.handoff_task("project-alpha", "t9", "coder"),
        lambda: store.task_history("project-alpha", "t9"),
    ):
        with pytest.raises(
            UsageError,
            match=r"no task 't9' in room 'project-alpha'.*room task list --room "
            r"project-alpha",
        ):
            change()


def test_tasks_filter_by_owner_and_status(store):
    store.add_task("project-alpha", "a", owner="researcher")
    store.add_task("project-alpha", "b", owner="coder")
    store.add_task("project-alpha", "c", owner="researcher")
    store.set_task_status("project-alpha", "t3", "blocked")
    assert [t.title for t in store.tasks("project-alpha", owner="researcher")] == ["a", "c"]
    assert [t.title for t in store.tasks("project-alpha", status="blocked")] == ["c"]
    assert [t.title for t in store.tasks("project-alpha", owner="@Researcher", status="todo")] == ["a"]
    assert store.tasks("project-alpha", owner="auditor") == []
    with pytest.raises(UsageError, match="unknown bot"):
        store.tasks("project-alpha", owner="nobody")


def test_tasks_in_general_work_without_creating_it_first(tmp_path):
    rooms = RoomStore(tmp_path / "fresh")
    assert rooms.add_task("general", "Say hi").id == "t1"
    assert rooms.get("general").participants == ("leader",)
