"""The routines service the gateway runs: fires each routine on time, one run at a time.

Every ``POLL`` seconds it
* re-reads routines.json when its modification time changed (the CLI edits it while we run);
* takes the ``routines run NAME`` requests;
* starts each routine whose time has come, then moves it to its next time *after now*: a gateway
  that was down does not fire the runs it missed (with ``--catch-up``, one run, at once);
* skips a run (logged, in state.json) while the previous run of that routine is still going;
* lets a routine with ``quiet_seconds`` (team check-ins) wait while the user is mid-conversation
  in its room (``crew.idle_seconds``).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from nanofolks_routines.catalog import all_routines, configured_team
from nanofolks_routines.runner import run_routine, set_task_status
from nanofolks_routines.schedule import parse_time, utc_now
from nanofolks_routines.store import Routine, RoutineStore

log = logging.getLogger("nanofolks.routines")

#: Seconds between two looks at the clock, routines.json and the run requests.
POLL = 0.5


class RoutineService:
    """Built by the gateway as ``RoutineService(spec=, config=, services=)``; ``await run(crew)``."""

    def __init__(self, *, spec: Any = None, config: Any = None, services: Any, clock: Any = utc_now) -> None:
        self.store = RoutineStore(services.data_dir)
        self.registered = services.registered
        self.config_file = services.data_root / "config.json"
        self.clock = clock
        self.crew: Any = None
        self.routines: dict[str, Routine] = {}
        self.next_due: dict[str, datetime] = {}
        self.running: dict[str, asyncio.Task] = {}
        self._signature: Any = object()
        self._deferred: set[str] = set()

    async def run(self, crew: Any) -> None:
        """Run until cancelled; a cancelled service cancels its runs in flight (they record why)."""
        self.crew = crew
        log.info("routines: watching %s", self.store.routines_path)
        self.recover_interrupted()
        try:
            while True:
                self.tick()
                await asyncio.sleep(POLL)
        finally:
            for task in self.running.values():
                task.cancel()
            if self.running:
                await asyncio.wait(list(self.running.values()), timeout=5)

    # -- one look --------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> list[str]:
        """Reload if needed, start what is due; returns the names started (for tests)."""
        now = now or self.clock()
        if getattr(self.crew, "accepting", True) is False:
            return []  # the gateway is shutting down: it takes no new turns
        self.reload(now)
        started = []
        for request in self.store.take_requests():
            name = request["name"]
            routine = self.routines.get(name)
            if routine is None:
                self.store.update_state(name, request=request.get("id"), lastStatus="failed",
                                        lastResult="no such routine", running=False)  # fmt: skip
            elif self._start(routine, "manual", now, request.get("id")):
                started.append(name)
        for name, routine in self.routines.items():
            due = self.next_due.get(name)
            if routine.paused or due is None or due > now:
                continue
            if routine.quiet_seconds and self.crew.idle_seconds(routine.room) < routine.quiet_seconds:
                if name not in self._deferred:
                    self._deferred.add(name)
                    log.info("routine %s: waiting until the conversation in %s has been quiet for %.0f s",
                             name, routine.room, routine.quiet_seconds)  # fmt: skip
                continue
            self._deferred.discard(name)
            self.next_due[name] = routine.schedule.next_after(now, anchor=routine.created)
            self.store.update_state(name, lastSlot=due, nextRun=self.next_due[name])
            if self._start(routine, "schedule", now):
                started.append(name)
        return started

    def _start(self, routine: Routine, trigger: str, now: datetime, request_id: str | None = None) -> bool:
        current = self.running.get(routine.name)
        if current is not None and not current.done():
            log.warning("routine %s: skipped a %s run at %s: the previous run is still going",
                        routine.name, trigger, now.isoformat(timespec="seconds"))  # fmt: skip
            self.store.update_state(routine.name, skipped=now, skippedWhy="the previous run was still going",
                                    skippedRequest=request_id)  # fmt: skip
            return False
        task = asyncio.get_running_loop().create_task(
            run_routine(self.crew, self.store, routine, trigger=trigger, request_id=request_id),
            name=f"routine:{routine.name}",
        )
        self.running[routine.name] = task
        task.add_done_callback(self._finished)
        return True

    def _finished(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("routine run %s failed", task.get_name(), exc_info=task.exception())

    def recover_interrupted(self) -> None:
        """Runs a previous gateway left unfinished (killed mid-run): their tasks and state say so."""
        for name, entry in self.store.read_state().items():
            if not entry.get("running"):
                continue
            why = "interrupted: the gateway stopped during the run"
            room, task = entry.get("room"), entry.get("task")
            if room and task:
                try:
                    if self.crew.rooms.task(room, task).status.value not in ("done", "failed"):
                        set_task_status(self.crew.rooms, room, task, "failed", why)
                except Exception as exc:  # noqa: BLE001 - a deleted room or task: only the state is fixed
                    log.debug("routine %s: task %s in %s: %s", name, task, room, exc)
            self.store.update_state(name, running=False, lastStatus="failed", lastResult=why)
            log.warning("routine %s: the last run was %s", name, why)

    # -- what to run and when ----------------------------------------------------------------

    def reload(self, now: datetime) -> None:
        """Re-read the routines when routines.json changed (or the first time)."""
        # config.json too: team routines follow the configured team.
        try:
            config_mtime = self.config_file.stat().st_mtime_ns
        except OSError:
            config_mtime = None
        signature = (self.store.signature(), config_mtime)
        if signature == self._signature:
            return
        try:
            routines, problems = all_routines(self.store, self.registered, configured_team(self.config_file))
        except Exception as exc:  # noqa: BLE001 - a damaged file: keep running what we had
            log.error("routines: %s; keeping the routines read before", exc)
            self._signature = signature
            return
        for problem in problems:
            log.warning("routines: %s", problem)
        self._signature = signature
        state = self.store.read_state()
        fresh = {routine.name: routine for routine in routines}
        for name, routine in fresh.items():
            old = self.routines.get(name)
            if old != routine:  # new, or changed (removed and added again, paused, resumed ...)
                self.next_due[name] = self.first_due(routine, state.get(name, {}), now)
                if not routine.paused:
                    self.store.update_state(name, nextRun=self.next_due[name])
        for name in set(self.next_due) - set(fresh):
            del self.next_due[name]
        self.routines = fresh

    @staticmethod
    def first_due(routine: Routine, state: dict[str, Any], now: datetime) -> datetime:
        """When a routine first runs after the gateway (re)starts or the routine changed: its next time
        after now; with catch-up, now when a run was missed since the last one (never more than one)."""
        schedule, anchor = routine.schedule, routine.created
        if routine.catch_up:
            since = parse_time(state.get("lastSlot")) or anchor
            if since is not None and schedule.missed_since(since, now, anchor=anchor):
                log.info("routine %s: missed a run while the gateway was down; running it once now", routine.name)
                return now
        return schedule.next_after(now, anchor=anchor)
