"""Routines inside a real ``nanofolks gateway --port 0`` subprocess, against the fake LLM server.

The acceptance of issue 11: an ``--every 5`` routine fires 2-5 times in 17 s, fires again after the
gateway restarts, stops once removed; a 09:00 cron routine does not fire at other times; each run is
a room task with its outcome; ``routines run`` goes through the running gateway.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime

from nanofolks_core.testing.llm_server import FakeLLMServer


def asked(llm: FakeLLMServer, text: str) -> int:
    """How many model requests carried ``text`` in their last user message."""
    count = 0
    for request in llm.requests:
        users = [m for m in request.get("messages", []) if m.get("role") == "user"]
        content = users[-1].get("content") if users else ""
        if isinstance(content, str) and text in content:
            count += 1
    return count


def routine_tasks(home, name: str) -> list[dict]:
    run = home.nanofolks("room", "task", "list", "--room", "general", "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    tasks = data["tasks"] if isinstance(data, dict) else data
    return [task for task in tasks if task["title"].startswith(f"routine {name}:")]


def test_every_5_fires_on_time_again_after_a_restart_and_stops_once_removed(crew_home, llm_server):
    home, llm = crew_home, llm_server
    # A 09:00 routine in a zone where it is not 09:00 during this test.
    zone = "UTC" if datetime.now(UTC).hour not in (8, 9) else "Asia/Tokyo"
    for args in (
        ["--name", "tick", "--message", "tick tock", "--every", "5"],
        ["--name", "morning", "--message", "good morning crew", "--schedule", "0 9 * * *", "--tz", zone],
    ):
        added = home.nanofolks("routines", "add", *args)
        assert added.returncode == 0, added.stderr
    with home.gateway() as gateway:
        time.sleep(17)
        fired = asked(llm, "tick tock")
        assert 2 <= fired <= 5, gateway.log()
        with urllib.request.urlopen(f"http://127.0.0.1:{gateway.state['port']}/health", timeout=5) as answer:
            health = json.loads(answer.read())
    assert health.get("services", {}).get("routines", {}).get("state") == "running", health
    assert asked(llm, "good morning crew") == 0

    # Every run is a room task with its outcome (the fake model's answer).
    time.sleep(0.5)
    tasks = routine_tasks(home, "tick")
    assert len(tasks) >= fired and all(task["status"] == "done" for task in tasks), tasks
    listed = json.loads(home.nanofolks("routines", "list", "--json").stdout)["routines"]
    tick = next(r for r in listed if r["name"] == "tick")
    assert tick["lastStatus"] == "done" and "tick tock" in tick["lastResult"], tick

    # Down for a few seconds: no burst of the missed runs when it is back, but it fires again.
    time.sleep(6)
    before = asked(llm, "tick tock")
    with home.gateway() as gateway:
        deadline = time.monotonic() + 12
        while asked(llm, "tick tock") == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert asked(llm, "tick tock") == before + 1, gateway.log()
        removed = home.nanofolks("routines", "remove", "tick")
        assert removed.returncode == 0, removed.stderr
        time.sleep(1)  # a run started just before the removal may still finish
        after_removal = asked(llm, "tick tock")
        time.sleep(7)
        assert asked(llm, "tick tock") == after_removal, "a removed routine fired"
        assert asked(llm, "good morning crew") == 0

        # `routines run` goes through the running gateway (its log names the run).
        ran = home.nanofolks("routines", "run", "morning", "--timeout", "60")
        assert ran.returncode == 0, ran.stderr
        assert "done" in ran.stdout and "good morning crew" in ran.stdout
        assert "routine morning: done" in gateway.log()
