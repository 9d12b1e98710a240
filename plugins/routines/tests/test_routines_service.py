"""The routines service with a fake clock and a stand-in crew (real room store and files on disk):
no burst after downtime, one catch-up when asked, no overlap, quiet waits, changes picked up,
team routines, and each run's room task with its outcome."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import types
from datetime import UTC, datetime, timedelta

import pytest
from nanofolks_routines import plugin
from nanofolks_routines.schedule import Schedule
from nanofolks_routines.service import RoutineService
from nanofolks_routines.store import Routine, RoutineStore

from nanofolks_core.api import App, RoutineSpec, ServiceSpec

T0 = datetime(2026, 3, 28, 7, 59, 0, tzinfo=UTC)  # 08:59 in Berlin


def in_loop(test):
    """Run an async test in its own event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


class FakeCrew:
    """CrewAccess with the real room store; answers "done: <text>" (or what ``answer`` says)."""

    def __init__(self, rooms) -> None:
        self.rooms = rooms
        self.asked: list[tuple[str, str, dict]] = []
        self.delivered: list[tuple[str, tuple[str, ...]]] = []
        self.idle = float("inf")
        self.gate: asyncio.Event | None = None
        self.answer = None

    async def ask(self, text, *, room="general", channel="routine", sender="routine", metadata=None):
        self.asked.append((text, room, dict(metadata or {})))
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.answer, BaseException):
            raise self.answer
        reply = types.SimpleNamespace(bot="leader", name="Leader", emoji="*", text=f"done: {text}", error=None)
        return types.SimpleNamespace(replies=[reply], room=room)

    async def deliver(self, room, *texts, bot="leader"):
        self.delivered.append((room, texts))
        return 1

    def idle_seconds(self, room=None):
        return self.idle


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def setup(nanofolks_home, plugin_services):
    services = plugin_services("routines")
    store = RoutineStore(services.data_dir)
    clock = Clock(T0)
    crew = FakeCrew(App().rooms)
    specs: list = []
    services = types.SimpleNamespace(
        data_dir=services.data_dir, data_root=nanofolks_home, registered=lambda kind: specs
    )
    service = RoutineService(services=services, clock=clock)
    service.crew = crew
    return types.SimpleNamespace(store=store, clock=clock, crew=crew, service=service, specs=specs, home=nanofolks_home)


def add(store: RoutineStore, name: str, *, cron=None, every=None, tz=None, created=T0, **extra) -> Routine:
    routine = Routine(name=name, message=f"{name} message", schedule=Schedule.parse(cron=cron, every=every, tz=tz),
                      created=created, **extra)  # fmt: skip
    store.add(routine)
    return routine


async def settle(service: RoutineService) -> None:
    """Let the runs started by the last tick finish."""
    if service.running:
        await asyncio.wait(list(service.running.values()), timeout=5)


@in_loop
async def test_a_0900_cron_routine_fires_at_0900_in_its_zone_and_at_no_other_time(setup):
    add(setup.store, "morning", cron="0 9 * * *", tz="Europe/Berlin")
    service, clock = setup.service, setup.clock
    for _ in range(59):  # 08:59:00 .. 08:59:59 Berlin time
        assert service.tick(clock.advance(1) - timedelta(seconds=1)) == []
    assert service.tick(clock.advance(1)) == ["morning"]  # 09:00:00
    await settle(service)
    for _ in range(30):  # the rest of the day, every half hour
        assert service.tick(clock.advance(1800)) == []
    assert len(setup.crew.asked) == 1


@in_loop
async def test_after_downtime_no_burst_of_missed_runs(setup):
    add(setup.store, "tick", every=60)
    setup.store.update_state("tick", lastSlot=T0 + timedelta(seconds=60))
    service, clock = setup.service, setup.clock
    clock.advance(3 * 3600 + 30)  # the gateway was down for three hours: 180 runs missed
    assert service.tick() == []
    assert service.next_due["tick"] == T0 + timedelta(seconds=3 * 3600 + 60)
    assert service.tick(clock.advance(30)) == ["tick"]
    await settle(service)
    assert len(setup.crew.asked) == 1


@in_loop
async def test_catch_up_runs_a_missed_run_once_when_the_gateway_is_back(setup):
    add(setup.store, "digest", cron="0 9 * * *", tz="Europe/Berlin", catch_up=True)
    setup.store.update_state("digest", lastSlot=datetime(2026, 3, 25, 8, 0, tzinfo=UTC))  # three days missed
    service, clock = setup.service, setup.clock
    assert service.tick() == ["digest"]
    await settle(service)
    for _ in range(10):
        assert service.tick(clock.advance(0.5)) == []
    assert len(setup.crew.asked) == 1


@in_loop
async def test_a_run_still_going_makes_the_next_one_skip_and_says_so(setup, caplog):
    add(setup.store, "slow", every=5)
    setup.crew.gate = asyncio.Event()
    service, clock = setup.service, setup.clock
    service.tick()
    assert service.tick(clock.advance(5)) == ["slow"]
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="nanofolks.routines"):
        assert service.tick(clock.advance(5)) == []
        assert service.tick(clock.advance(5)) == []
    assert "skipped a schedule run" in caplog.text and "still going" in caplog.text
    assert setup.store.read_state()["slow"]["skippedWhy"] == "the previous run was still going"
    setup.crew.gate.set()
    await settle(service)
    assert len(setup.crew.asked) == 1
    assert service.tick(clock.advance(5)) == ["slow"]
    await settle(service)


@in_loop
async def test_the_cli_s_changes_are_picked_up_while_it_runs(setup):
    service, clock, store = setup.service, setup.clock, setup.store
    assert service.tick() == []
    add(store, "late", every=5, created=clock.now)
    assert service.tick() == []  # seen within a tick: first run 5 s after it was added
    assert service.tick(clock.advance(5)) == ["late"]
    await settle(service)
    store.set_paused("late", True, team=False)
    assert service.tick(clock.advance(5)) == []
    store.set_paused("late", False, team=False)
    service.tick()
    assert service.tick(clock.advance(5)) == ["late"]
    await settle(service)
    store.remove("late")
    assert [service.tick(clock.advance(5)) for _ in range(3)] == [[], [], []]
    assert len(setup.crew.asked) == 2


@in_loop
async def test_a_run_is_a_room_task_done_with_its_outcome_and_reaches_the_chats(setup):
    add(setup.store, "standup", every=5, bot="coder", room="general")
    service, clock = setup.service, setup.clock
    service.tick()
    service.tick(clock.advance(5))
    await settle(service)
    text, room, metadata = setup.crew.asked[0]
    assert text == "@coder standup message" and room == "general"
    assert metadata["routine"] == "standup"
    task = setup.crew.rooms.task("general", metadata["task"])
    assert task.status.value == "done" and task.owner == "coder" and task.title.startswith("routine standup:")
    statuses = [(e.to, e.reason) for e in task.history if e.kind == "status"]
    assert statuses[0][0] == "in_progress"
    assert statuses[-1][0] == "done" and "done: @coder standup message" in (statuses[-1][1] or "")
    assert setup.crew.delivered and "standup" in setup.crew.delivered[0][1][0]
    state = setup.store.read_state()["standup"]
    assert state["lastStatus"] == "done" and state["task"] == task.id and not state["running"]


@in_loop
async def test_a_failed_or_timed_out_run_says_so_on_its_task(setup, monkeypatch):
    from nanofolks_routines import runner

    add(setup.store, "broken", every=5)
    setup.crew.answer = ConnectionError("the model did not answer")
    service, clock = setup.service, setup.clock
    service.tick()
    service.tick(clock.advance(5))
    await settle(service)
    state = setup.store.read_state()["broken"]
    task = setup.crew.rooms.task("general", state["task"])
    assert state["lastStatus"] == "failed" and "the model did not answer" in state["lastResult"]
    assert task.status.value in ("failed", "blocked") and "the model did not answer" in (task.history[-1].reason or "")
    assert not setup.crew.delivered

    setup.crew.answer, setup.crew.gate = None, asyncio.Event()  # never answers
    monkeypatch.setattr(runner, "RUN_TIMEOUT", 0.2)
    routine = service.routines["broken"]
    entry = await runner.run_routine(setup.crew, setup.store, routine, timeout=0.2)
    assert entry["lastStatus"] == "timed out" and "no answer within" in entry["lastResult"]
    assert "timed out" in (setup.crew.rooms.task("general", entry["task"]).history[-1].reason or "")


@in_loop
async def test_team_routines_run_for_their_team_wait_while_the_user_talks_and_can_be_paused(setup):
    setup.specs.append(RoutineSpec(name="pirate-roll-call", message="Open tasks:\n{open_tasks}", every=60,
                                   team="pirate", needs_open_tasks=True, quiet_seconds=300))  # fmt: skip
    setup.specs.append(RoutineSpec(name="space-check", message="hi", every=60, team="space"))
    (setup.home / "config.json").write_text(json.dumps({"team": "pirate"}))
    service, clock, crew = setup.service, setup.clock, setup.crew
    service.tick()
    assert set(service.routines) == {"pirate-roll-call"}
    # No open task: the run is skipped without a model call.
    assert service.tick(clock.advance(60)) == ["pirate-roll-call"]
    await settle(service)
    assert crew.asked == [] and setup.store.read_state()["pirate-roll-call"]["lastStatus"] == "skipped"
    crew.rooms.add_task("general", "Ship the landing page", owner="coder")
    crew.idle = 20.0  # the user wrote 20 s ago: the check-in waits
    assert service.tick(clock.advance(60)) == []
    assert service.tick(clock.advance(30)) == []
    crew.idle = 301.0
    assert service.tick(clock.advance(1)) == ["pirate-roll-call"]
    await settle(service)
    assert "Ship the landing page" in crew.asked[0][0] and "@coder" in crew.asked[0][0]
    setup.store.set_paused("pirate-roll-call", True, team=True)
    assert [service.tick(clock.advance(60)) for _ in range(3)] == [[], [], []]


@in_loop
async def test_a_manual_run_request_is_taken_at_the_next_tick(setup):
    add(setup.store, "now", cron="0 9 * * *", tz="UTC")
    request = setup.store.request_run("now")
    assert setup.service.tick() == ["now"]
    await settle(setup.service)
    state = setup.store.read_state()["now"]
    assert state["request"] == request and state["trigger"] == "manual" and state["lastStatus"] == "done"
    assert setup.store.take_requests() == []


def test_the_plugin_registers_the_service_and_the_command(register_plugin):
    # nanofolks_register_services / nanofolks_register_commands through the real plugin module.
    registry = register_plugin(plugin, "routines")
    spec = registry.get("service", "routines")
    assert isinstance(spec, ServiceSpec) and spec.load() is RoutineService
    assert registry.get("command", "routines").load().name == "routines"


def test_a_team_plugin_registers_routines(register_plugin):
    from nanofolks_core.api import hookimpl

    class Team:
        @hookimpl
        def nanofolks_register_routines(self, register):
            register(RoutineSpec(name="crew-daily", message="Summarise:\n{open_tasks}", schedule="0 9 * * 1-5"))

    registry = register_plugin(Team(), "team-example")
    assert registry.get("routine", "crew-daily").schedule == "0 9 * * 1-5"
    with pytest.raises(ValueError, match="exactly one"):
        RoutineSpec(name="x", message="m", schedule="0 9 * * *", every=5)
    with pytest.raises(ValueError, match="five-field"):
        RoutineSpec(name="x", message="m", schedule="daily")


def test_a_run_cut_short_by_a_killed_gateway_is_marked_failed_at_the_next_start(setup):
    add(setup.store, "cut", every=60)
    task = setup.crew.rooms.add_task("general", "routine cut: cut message", owner="leader")
    setup.crew.rooms.set_task_status("general", task.id, "in_progress")
    setup.store.update_state("cut", running=True, lastStatus="running", task=task.id, room="general")
    setup.service.recover_interrupted()
    state = setup.store.read_state()["cut"]
    assert not state["running"] and state["lastStatus"] == "failed" and "interrupted" in state["lastResult"]
    changed = setup.crew.rooms.task("general", task.id)
    assert changed.status.value in ("failed", "blocked") and "interrupted" in (changed.history[-1].reason or "")


@in_loop
async def test_a_routine_whose_room_was_deleted_fails_with_the_reason(setup):
    setup.crew.rooms.create("gone")
    add(setup.store, "lost", every=5, room="gone")
    setup.crew.rooms.delete("gone")
    service, clock = setup.service, setup.clock
    service.tick()
    assert service.tick(clock.advance(5)) == ["lost"]
    await settle(service)
    state = setup.store.read_state()["lost"]
    assert state["lastStatus"] == "failed" and "gone" in state["lastResult"] and not state["running"]
    assert setup.crew.asked == []


@in_loop
async def test_nothing_starts_while_the_gateway_shuts_down(setup):
    add(setup.store, "late", every=5)
    setup.service.tick()
    setup.crew.accepting = False
    assert setup.service.tick(setup.clock.advance(5)) == []
