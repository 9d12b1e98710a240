"""`nanofolks room ...` as a user runs it: output, exit codes, JSON, and files left alone on errors."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from nanofolks_core.cli import main
from nanofolks_core.rooms import RoomStore
from nanofolks_core.sessions import FileSessionStore, SessionMessage


@pytest.fixture
def fails(nanofolks_home: Path, capsys):
    """Run the real entry point (as `nanofolks` does) on bad input: return (exit code, stderr)."""

    def run(args: list[str]) -> tuple[int, str]:
        code = main(args)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return code, captured.err

    return run


def snapshot(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and ".locks" not in p.parts
    }


def ok(cli_runner, args: list[str]) -> str:
    result = cli_runner(args)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_user_guide_walkthrough(cli_runner, nanofolks_home):
    out = ok(cli_runner, ["room", "create", "project-alpha"])
    assert "Created room 'project-alpha' (project) with leader." in out
    assert (nanofolks_home / "rooms" / "project-alpha.json").is_file()

    assert "Invited researcher to 'project-alpha'." in ok(cli_runner, ["room", "invite", "project-alpha", "researcher"])
    out = ok(cli_runner, ["room", "show", "project-alpha"])
    assert "project-alpha  (project)" in out and "participants: leader, researcher" in out
    assert "messages:     0" in out
    out = ok(cli_runner, ["room", "list"])
    assert [line.split()[0] for line in out.splitlines()] == ["ROOM", "general", "project-alpha"]

    # The room works under the exact name it was created with (no random prefix).
    assert "No tasks in 'project-alpha' yet." in ok(cli_runner, ["room", "task", "list", "--room", "project-alpha"])
    out = ok(
        cli_runner,
        [
            "room",
            "task",
            "add",
            "--room",
            "project-alpha",
            "--owner",
            "coder",
            "--priority",
            "high",
            "--due",
            "2025-01-15",
            "Ship landing page",
        ],
    )
    assert "Added task t1 to 'project-alpha': Ship landing page (owner coder)" in out
    assert "coder joined room 'project-alpha'" in out

    out = ok(cli_runner, ["room", "task", "list", "--room", "project-alpha"])
    assert out.splitlines()[1].split(None, 5) == ["t1", "todo", "high", "coder", "2025-01-15", "Ship landing page"]
    out = ok(cli_runner, ["room", "task", "list", "--room", "project-alpha", "--owner", "researcher"])
    assert "No tasks in 'project-alpha' match those filters." in out

    assert "Task t1 is now done." in ok(cli_runner, ["room", "task", "status", "--room", "project-alpha", "t1", "done"])
    ok(
        cli_runner,
        ["room", "task", "assign", "--room", "project-alpha", "t1", "researcher", "--reason", "Needs deep research"],
    )
    out = ok(
        cli_runner,
        ["room", "task", "handoff", "--room", "project-alpha", "t1", "creative", "--reason", "Shift to design phase"],
    )
    assert "Task t1 handed off from researcher to creative." in out

    out = ok(cli_runner, ["room", "task", "history", "--room", "project-alpha", "t1"])
    lines = out.splitlines()
    assert lines[0] == "t1: Ship landing page  [done, owner creative]"
    assert lines[1].endswith("created, owner coder")
    assert lines[2].endswith("status todo -> done")
    assert lines[3].endswith("assigned coder -> researcher  (Needs deep research)")
    assert lines[4].endswith("handoff researcher -> creative  (Shift to design phase)")


def test_create_with_type_bots_and_description(cli_runner):
    out = ok(
        cli_runner,
        [
            "room",
            "create",
            "q4-planning",
            "--bots",
            "researcher,creative",
            "--bots",
            "@Coder",
            "--description",
            "Plan Q4",
        ],
    )
    assert "with leader, researcher, creative, coder." in out
    out = ok(cli_runner, ["room", "create", "ask-coder", "--type", "DIRECT", "--bots", "coder"])
    assert "Created room 'ask-coder' (direct) with coder." in out
    data = json.loads(ok(cli_runner, ["room", "list", "--json"]))
    assert [(r["id"], r["type"], r["participants"], r["description"]) for r in data] == [
        ("general", "open", ["leader"], "Default room for all conversations"),
        ("ask-coder", "direct", ["coder"], ""),
        ("q4-planning", "project", ["leader", "researcher", "creative", "coder"], "Plan Q4"),
    ]
    assert data[0]["task_counts"] == {"todo": 0, "in_progress": 0, "blocked": 0, "done": 0, "failed": 0}


def test_show_json_counts_tasks_messages_and_chats(cli_runner, nanofolks_home):
    ok(cli_runner, ["room", "create", "project-alpha", "--bots", "researcher"])
    ok(cli_runner, ["room", "task", "add", "--room", "project-alpha", "One"])
    ok(cli_runner, ["room", "task", "add", "--room", "project-alpha", "Two"])
    ok(cli_runner, ["room", "task", "status", "--room", "project-alpha", "t2", "blocked"])
    FileSessionStore(nanofolks_home / "sessions").append(
        "project-alpha", SessionMessage("user", "hello"), SessionMessage("assistant", "hi", bot="researcher")
    )
    RoomStore(nanofolks_home / "rooms").map_channel("telegram", 12345, "project-alpha")

    data = json.loads(ok(cli_runner, ["room", "show", "project-alpha", "--json"]))
    assert data["id"] == "project-alpha" and data["type"] == "project"
    assert data["participants"] == ["leader", "researcher"]
    assert data["task_counts"] == {"todo": 1, "in_progress": 0, "blocked": 1, "done": 0, "failed": 0}
    assert [t["id"] for t in data["tasks"]] == ["t1", "t2"]
    assert data["message_count"] == 2
    assert data["channels"] == [{"channel": "telegram", "chat_id": "12345"}]
    out = ok(cli_runner, ["room", "show", "project-alpha"])
    assert "tasks:        2 (1 todo, 0 in_progress, 1 blocked, 0 done, 0 failed)" in out
    assert "messages:     2" in out and "chats:        telegram:12345" in out


def test_task_list_json_and_filters(cli_runner):
    ok(cli_runner, ["room", "create", "project-alpha"])
    ok(cli_runner, ["room", "task", "add", "--room", "project-alpha", "--owner", "coder", "--due", "2025-01-15", "A"])
    ok(cli_runner, ["room", "task", "add", "--room", "project-alpha", "--owner", "researcher", "B"])
    ok(cli_runner, ["room", "task", "status", "--room", "project-alpha", "t2", "in-progress"])
    data = json.loads(ok(cli_runner, ["room", "task", "list", "--room", "project-alpha", "--json"]))
    assert data[0] == data[0] | {
        "id": "t1",
        "title": "A",
        "owner": "coder",
        "status": "todo",
        "priority": "medium",
        "due": "2025-01-15",
    }
    assert data[0]["history"][0] == data[0]["history"][0] | {"kind": "created", "from": None, "to": "coder"}
    filtered = json.loads(
        ok(cli_runner, ["room", "task", "list", "--room", "project-alpha", "--status", "in_progress", "--json"])
    )
    assert [t["title"] for t in filtered] == ["B"]
    history = json.loads(ok(cli_runner, ["room", "task", "history", "--room", "project-alpha", "t2", "--json"]))
    assert [(e["kind"], e["from"], e["to"]) for e in history] == [
        ("created", None, "researcher"),
        ("status", "todo", "in_progress"),
    ]


def test_task_commands_default_to_general(cli_runner):
    assert "Added task t1 to 'general'" in ok(cli_runner, ["room", "task", "add", "Water the plants"])
    assert "Water the plants" in ok(cli_runner, ["room", "task", "list"])


def test_history_shows_who_said_what(cli_runner, nanofolks_home):
    ok(cli_runner, ["room", "create", "project-alpha"])
    ts = 1_736_935_200.0
    FileSessionStore(nanofolks_home / "sessions").append(
        "project-alpha",
        SessionMessage("user", "@researcher find data on solar", channel="telegram", ts=ts),
        SessionMessage("assistant", "Found three reports.\nThe best is IEA 2024.", bot="researcher", ts=ts + 60),
        SessionMessage("user", "thanks", channel="cli", ts=ts + 120),
    )
    out = ok(cli_runner, ["room", "history", "project-alpha"])
    stamp = datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")
    assert out.splitlines()[0] == f"{stamp}  you: @researcher find data on solar"
    assert "  researcher: Found three reports." in out.splitlines()[1]
    assert out.splitlines()[2].strip() == "The best is IEA 2024."
    assert out.splitlines()[3].endswith("you: thanks")

    last = ok(cli_runner, ["room", "history", "project-alpha", "--limit", "1"])
    assert last.splitlines()[0] == "(2 earlier message(s) not shown; --limit 0 shows all)"
    assert last.splitlines()[1].endswith("you: thanks") and len(last.splitlines()) == 2

    data = json.loads(ok(cli_runner, ["room", "history", "project-alpha", "--json"]))
    assert [(m["role"], m["bot"], m["channel"]) for m in data] == [
        ("user", None, "telegram"),
        ("assistant", "researcher", None),
        ("user", None, "cli"),
    ]
    assert set(data[0]) == {"id", "role", "content", "bot", "channel", "ts", "meta"} and data[0]["ts"] == ts
    assert "No messages in room 'general' yet." in ok(cli_runner, ["room", "history", "general"])


def test_history_marks_summaries_and_neutralises_escape_codes(cli_runner, nanofolks_home):
    store = FileSessionStore(nanofolks_home / "sessions")
    old = [SessionMessage("user", f"question {i}") for i in range(22)]
    store.append("general", *old)
    store.append(
        "general",
        SessionMessage("system", "The user asked 22 questions.", meta={"summary": True, "covers": 22}),
        SessionMessage("assistant", "evil \x1b]0;pwned\x07title \x1b]52;c;aGk=\x07clip \x1b[2Jclear", bot="leader"),
    )
    out = ok(cli_runner, ["room", "history", "general", "--limit", "0"])
    lines = out.splitlines()
    assert len([line for line in lines if "you: question" in line]) == 22  # nothing folded away
    assert "── summary of 22 earlier messages (the model's view starts here) ──" in lines[22]
    assert lines[23].strip() == "The user asked 22 questions."
    assert lines[24].endswith("leader: evil title clip clear")
    assert "\x1b" not in out and "\x07" not in out


def test_delete_needs_yes_without_a_terminal_and_removes_history(cli_runner, fails, nanofolks_home):
    ok(cli_runner, ["room", "create", "project-alpha"])
    FileSessionStore(nanofolks_home / "sessions").append("project-alpha", SessionMessage("user", "old"))
    before = snapshot(nanofolks_home)
    code, err = fails(["room", "delete", "project-alpha"])
    assert code == 2 and "pass --yes" in err
    assert snapshot(nanofolks_home) == before

    assert "Deleted room 'project-alpha' and its history." in ok(
        cli_runner, ["room", "delete", "project-alpha", "--yes"]
    )
    assert not (nanofolks_home / "rooms" / "project-alpha.json").exists()
    ok(cli_runner, ["room", "create", "project-alpha"])  # a new room with that name starts empty
    assert "No messages" in ok(cli_runner, ["room", "history", "project-alpha"])

    code, err = fails(["room", "delete", "general", "--yes"])
    assert code == 2 and "'general' is the default room and cannot be deleted" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["room", "create", "Project Alpha"], "invalid room name 'Project Alpha'"),
        (["room", "create", "project-alpha"], "already exists"),
        (["room", "create", "dm", "--type", "direct", "--bots", "coder,researcher"], "exactly one bot"),
        (["room", "create", "x", "--bots", "wizard"], "unknown bot 'wizard'"),
        (["room", "invite", "project-alpha", "reserch"], "Did you mean 'researcher'"),
        (["room", "invite", "nowhere", "coder"], "create it with `nanofolks room create nowhere`"),
        (["room", "remove", "project-alpha", "leader"], "leader stays"),
        (["room", "show", "project-alpah"], "did you mean 'project-alpha'"),
        (["room", "history", "nowhere"], "no room named 'nowhere'"),
        (
            ["room", "task", "add", "--room", "project-alpha", "--due", "2025-13-45", "Ship"],
            "invalid due date '2025-13-45'",
        ),
        (["room", "task", "add", "--room", "project-alpha", "--owner", "intern", "Ship"], "unknown bot 'intern'"),
        (["room", "task", "add", "--room", "nowhere", "Ship"], "no room named 'nowhere'"),
        (
            ["room", "task", "status", "--room", "project-alpha", "t7", "done"],
            "see the task ids with `nanofolks room task list --room project-alpha`",
        ),
        (["room", "task", "status", "--room", "project-alpha", "t1", "finished"], "todo, in_progress, blocked, done"),
        (["room", "task", "handoff", "--room", "project-alpha", "t1", "coder"], "no owner to hand it off"),
        (["room", "task", "list", "--room", "project-alpha", "--status", "later"], "unknown task status"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_changes_nothing(cli_runner, fails, nanofolks_home, args, expected):
    ok(cli_runner, ["room", "create", "project-alpha", "--bots", "researcher"])
    ok(cli_runner, ["room", "task", "add", "--room", "project-alpha", "Ship"])
    before = snapshot(nanofolks_home)
    code, err = fails(args)
    assert code == 2
    assert err.startswith("Error: ") and expected in err
    assert snapshot(nanofolks_home) == before


def test_click_level_mistakes_also_exit_2(cli_runner, fails):
    ok(cli_runner, ["room", "create", "project-alpha"])
    code, err = fails(["room", "create", "x", "--type", "party"])
    assert code == 2 and "'party' is not one of" in err
    code, err = fails(["room", "task", "add", "--room", "project-alpha", "--priority", "asap", "x"])
    assert code == 2 and "'asap' is not one of" in err
    code, err = fails(["room", "invite", "project-alpha"])
    assert code == 2 and "Missing argument" in err


def test_a_damaged_room_file_is_named_and_the_other_rooms_still_listed(cli_runner, fails, nanofolks_home):
    ok(cli_runner, ["room", "create", "good"])
    ok(cli_runner, ["room", "create", "broken"])
    broken = nanofolks_home / "rooms" / "broken.json"
    broken.write_text("{oops", encoding="utf-8")
    result = cli_runner(["room", "list"])
    assert result.exit_code == 1
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["ROOM", "general", "good"]
    assert f"warning: {broken}: is not valid JSON" in result.stderr
    code, err = fails(["room", "invite", "broken", "coder"])
    assert code == 1 and str(broken) in err and "nanofolks doctor --repair" in err
    assert broken.read_text() == "{oops"


def test_the_installed_command_reports_errors_without_a_traceback(nanofolks_proc, home):
    run = nanofolks_proc(["room", "create", "Project Alpha"], home)
    assert run.code == 2
    assert "Error: invalid room name 'Project Alpha'" in run.err and "'project-alpha'" in run.err
    assert "Traceback" not in run.err
    run = nanofolks_proc(["room", "create", "project-alpha"], home)
    assert run.code == 0 and (home / "rooms" / "project-alpha.json").is_file()
    run = nanofolks_proc(["room", "task", "add", "--room", "project-alpha", "Ship it"], home)
    assert run.code == 0 and "Added task t1 to 'project-alpha'" in run.out


def test_delete_asks_on_a_terminal(nanofolks_home, home):
    """With a terminal, `room delete` asks first; answering no keeps the room."""
    RoomStore(home / "rooms").create("project-alpha")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")} | {"NANOFOLKS_HOME": str(home)}
    for answer, kept in (("n", True), ("y", False)):
        controller, terminal = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "room", "delete", "project-alpha"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        os.close(terminal)
        os.write(controller, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=60)
        os.close(controller)
        assert "Delete room 'project-alpha' with 0 task(s) and its message history?" in out
        assert (home / "rooms" / "project-alpha.json").exists() is kept
        assert proc.returncode == (1 if kept else 0), err


@pytest.mark.parametrize("name", ["--help", "-x", "-"])
def test_room_names_that_look_like_options_are_rejected(fails, nanofolks_home, name):
    code, err = fails(["room", "create", "--", name])
    assert code == 2 and f"invalid room name {name!r}" in err and "not starting with '-'" in err
    assert not (nanofolks_home / "rooms" / f"{name}.json").exists()
