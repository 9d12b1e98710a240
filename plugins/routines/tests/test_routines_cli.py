"""``nanofolks routines`` as a user types it: add, list, pause, resume, remove, run in process,
and every mistake as one clear line with nothing stored changed."""

from __future__ import annotations

import json

import pytest

from nanofolks_core.api import UsageError


def routines_file(home):
    path = home / "plugins" / "routines" / "routines.json"
    return path.read_bytes() if path.exists() else None


def test_add_list_pause_resume_remove(cli_runner, nanofolks_home):
    added = cli_runner(["routines", "add", "--name", "morning", "--message", "What's on my calendar?",
                        "--schedule", "0 9 * * *", "--tz", "Europe/Berlin", "--bot", "@Researcher"])  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "Added routine morning: 0 9 * * * (Europe/Berlin) in room general" in added.output
    assert cli_runner(["routines", "add", "--name", "tick", "--message", "ping", "--every", "30"]).exit_code == 0
    listed = json.loads(cli_runner(["routines", "list", "--json"]).output)["routines"]
    by_name = {r["name"]: r for r in listed}
    assert by_name["morning"]["bot"] == "researcher" and by_name["morning"]["tz"] == "Europe/Berlin"
    assert by_name["morning"]["nextRun"].endswith(("T07:00:00+00:00", "T08:00:00+00:00"))  # 09:00 Berlin
    assert by_name["tick"]["every"] == 30 and by_name["leader-daily-summary"]["kind"] == "team"

    assert cli_runner(["routines", "pause", "morning"]).exit_code == 0
    assert cli_runner(["routines", "pause", "leader-daily-summary"]).exit_code == 0
    table = cli_runner(["routines", "list"]).output
    assert "morning" in table and "paused" in table and "leader-daily-summary  team  paused" in table
    listed = {r["name"]: r for r in json.loads(cli_runner(["routines", "list", "--json"]).output)["routines"]}
    assert listed["morning"]["paused"] and listed["morning"]["nextRun"] is None
    assert cli_runner(["routines", "resume", "morning"]).exit_code == 0
    assert cli_runner(["routines", "resume", "leader-daily-summary"]).exit_code == 0
    listed = {r["name"]: r for r in json.loads(cli_runner(["routines", "list", "--json"]).output)["routines"]}
    assert not listed["morning"]["paused"] and not listed["leader-daily-summary"]["paused"]

    with pytest.raises(UsageError, match="is a team routine; pause it instead"):
        cli_runner(["routines", "remove", "leader-daily-summary"])
    assert cli_runner(["routines", "remove", "morning"]).exit_code == 0
    names = [r["name"] for r in json.loads(cli_runner(["routines", "list", "--json"]).output)["routines"]]
    assert names == ["tick", "leader-daily-summary"]


BAD = [
    (["--schedule", "61 * * * *"], "invalid schedule '61 * * * *': bad minute"),
    (["--schedule", "0 9 * *"], "five fields"),
    (["--schedule", "0 9 * * *", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["--every", "0"], "at least 1"),
    (["--every", "-3"], "at least 1"),
    (["--every", "5", "--schedule", "0 9 * * *"], "exactly one"),
    ([], "exactly one"),
    (["--every", "5", "--room", "nowhere"], "no room named 'nowhere'"),
    (["--every", "5", "--bot", "pirate"], "unknown bot 'pirate'"),
    (["--every", "5", "--name", "two words"], "invalid routine name"),
    (["--every", "5", "--name", "tick"], "already exists"),
    (["--every", "5", "--name", "Tick"], "a routine named 'tick' already exists"),
    (["--every", "5", "--name", "leader-daily-summary"], "already exists"),
    (["--every", "5", "--message", "   "], "--message is empty"),
]


@pytest.mark.parametrize(("args", "says"), BAD, ids=[says for _, says in BAD])
def test_bad_input_is_one_line_non_zero_and_changes_nothing(crew_home, args, says):
    nanofolks_home = crew_home.path
    first = crew_home.nanofolks("routines", "add", "--name", "tick", "--message", "ping", "--every", "5")
    assert first.returncode == 0
    before = routines_file(nanofolks_home)
    options = dict(zip(args[::2], args[1::2], strict=False))
    command = ["routines", "add"]
    if "--name" not in options:
        command += ["--name", "fresh"]
    if "--message" not in options:
        command += ["--message", "hello"]
    run = crew_home.nanofolks(*command, *args)
    assert run.returncode != 0
    assert says in run.stderr and "Traceback" not in run.stderr + run.stdout
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert routines_file(nanofolks_home) == before


def test_unknown_names_and_a_damaged_file_are_clear_errors_that_keep_the_file(crew_home):
    nanofolks_home = crew_home.path
    for command in ("remove", "pause", "resume", "run"):
        run = crew_home.nanofolks("routines", command, "nope")
        assert run.returncode != 0 and "no routine named 'nope'" in run.stderr and "Traceback" not in run.stderr
    path = nanofolks_home / "plugins" / "routines" / "routines.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"routines": {"half": ')
    for args in (["list"], ["add", "--name", "x", "--message", "m", "--every", "5"]):
        run = crew_home.nanofolks("routines", *args)
        assert run.returncode != 0 and "routines.json is damaged" in run.stderr and "Traceback" not in run.stderr
    assert path.read_text() == '{"routines": {"half": '


def test_run_without_a_gateway_runs_in_process_as_a_room_task(crew_home):
    nanofolks_home = crew_home.path
    assert crew_home.nanofolks("routines", "add", "--name", "hello", "--message", "say ahoy",
                     "--schedule", "0 9 * * *", "--bot", "coder").returncode == 0  # fmt: skip
    run = crew_home.nanofolks("routines", "run", "hello")
    assert run.returncode == 0, run.stderr
    assert "Routine hello: done (task t1 in room general)" in run.stdout and "say ahoy" in run.stdout
    tasks = json.loads(crew_home.nanofolks("room", "task", "list", "--room", "general", "--json").stdout)
    tasks = tasks["tasks"] if isinstance(tasks, dict) else tasks
    assert [(t["id"], t["status"], t["owner"]) for t in tasks] == [("t1", "done", "coder")]
    history = crew_home.nanofolks("room", "history", "general").stdout
    assert "say ahoy" in history  # the turn is in the room's history
    listed = json.loads(crew_home.nanofolks("routines", "list", "--json").stdout)["routines"]
    listed = {r["name"]: r for r in listed}
    assert listed["hello"]["lastStatus"] == "done" and listed["hello"]["task"] == "t1"

    # No model configured: the run fails, says why, and the task says so too.
    (nanofolks_home / "config.json").write_text(json.dumps({"memory": {"enabled": False}}))  # no model
    failed = crew_home.nanofolks("routines", "run", "hello")
    assert failed.returncode != 0 and "Routine hello:" in failed.stdout and "Traceback" not in failed.stderr
