"""``nanofolks routines``: add, list, remove, run, pause and resume routines."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import click

from nanofolks_core.api import App, InProcessCrew, UsageError, print_table, running_gateway
from nanofolks_routines.catalog import all_routines
from nanofolks_routines.runner import RUN_TIMEOUT, run_routine
from nanofolks_routines.schedule import Schedule, local_zone_name, parse_time, utc_now
from nanofolks_routines.store import MESSAGE_MAX, Routine, RoutineStore, check_name

pass_app = click.make_pass_decorator(App, ensure=True)

#: Seconds the running gateway has to take a ``routines run`` request (it looks twice a second).
PICK_UP_SECONDS = 10.0

#: The crew's roles (``--bot``); a routine addresses one with an @mention.
BOTS = ("leader", "researcher", "coder", "social", "creative", "auditor")


def _store(app: App) -> RoutineStore:
    return RoutineStore(app.services_for("routines", llm=False).data_dir)


def _catalog(app: App) -> tuple[list[Routine], list[str]]:
    return all_routines(_store(app), app.registry.all, app.config.team)


def _find(app: App, name: str) -> Routine:
    routines, _ = _catalog(app)
    for routine in routines:
        if routine.name == name:
            return routine
    known = ", ".join(r.name for r in routines) or "none yet"
    raise UsageError(f"no routine named {name!r} (routines: {known}); see `nanofolks routines list`")


def _when(value: Any) -> str:
    parsed = parse_time(value) if not isinstance(value, datetime) else value
    return parsed.astimezone().strftime("%Y-%m-%d %H:%M:%S") if parsed else "-"


@click.group()
def routines() -> None:
    """Routines: messages the crew runs on a schedule, inside `nanofolks gateway`.

    \b
    Your routines: reminders and recurring tasks you add. Team routines: check-ins the team
    plugins ship (pause and resume them). Each run is a room task; the answer goes to the room
    and to the chat-app chats linked to it. See docs/routines.md.
    """


@routines.command("add")
@click.option("--name", required=True, help="A short name: letters, digits, '-', '_' or '.'.")
@click.option("--message", required=True, help="What the crew is asked at each run.")
@click.option("--schedule", "cron", metavar="CRON", help='A cron line, e.g. "0 9 * * *" (09:00 every day).')
@click.option("--every", type=int, metavar="SECONDS", help="Run every SECONDS seconds instead.")
@click.option("--room", default="general", show_default=True, help="The room it runs in.")
@click.option("--bot", help=f"Ask this bot (@mention): {', '.join(BOTS)}. Default: as a message would.")
@click.option("--tz", help="The zone of the cron line, e.g. Europe/Berlin (default: this machine's).")
@click.option("--catch-up", is_flag=True, help="After the gateway was down over a run time, run once when it is back.")
@pass_app
def add(app: App, name: str, message: str, cron: str | None, every: int | None, room: str, bot: str | None,
        tz: str | None, catch_up: bool) -> None:  # fmt: skip
    """Add a routine (checked completely before anything is stored)."""
    check_name(name)
    text = " ".join(message.split()) if message else ""
    if not text:
        raise UsageError("--message is empty: say what the crew should do at each run")
    if len(message) > MESSAGE_MAX:
        raise UsageError(f"--message is at most {MESSAGE_MAX} characters (got {len(message)})")
    schedule = Schedule.parse(cron=cron, every=every, tz=tz)
    app.rooms.get(room)  # an unknown room: the store's own message, with a did-you-mean
    if bot is not None:
        bot = bot.lstrip("@").lower()
        if bot not in BOTS:
            raise UsageError(f"unknown bot {bot!r}: use one of {', '.join(BOTS)}")
    routine = Routine(name=name, message=message.strip(), schedule=schedule, room=room, bot=bot,
                      catch_up=catch_up, created=utc_now())  # fmt: skip
    teams = {r.name for r in _catalog(app)[0] if r.kind == "team"}
    _store(app).add(routine, taken=teams)
    first = schedule.next_after(utc_now(), anchor=routine.created)
    where = "" if running_gateway(app.data_root) else " (start `nanofolks gateway` to run it)"
    click.echo(f"Added routine {name}: {schedule.describe()} in room {room}; next run {_when(first)}{where}.")


@routines.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_routines(app: App, as_json: bool) -> None:
    """List your routines and the team routines: schedule, next run, last run and its result."""
    items, problems = _catalog(app)
    state = _store(app).read_state()
    now = utc_now()
    rows = []
    for routine in items:
        entry = state.get(routine.name, {})
        nxt = None if routine.paused else routine.schedule.next_after(now, anchor=routine.created)
        rows.append({
            "name": routine.name, "kind": routine.kind, "paused": routine.paused,
            "schedule": routine.schedule.cron, "every": routine.schedule.every,
            "tz": routine.schedule.tz or (local_zone_name() if routine.schedule.cron else None),
            "room": routine.room, "bot": routine.bot, "message": routine.message, "catchUp": routine.catch_up,
            "nextRun": nxt.isoformat() if nxt else None, "lastRun": entry.get("lastRun"),
            "lastStatus": entry.get("lastStatus"), "lastResult": entry.get("lastResult"), "task": entry.get("task"),
        })  # fmt: skip
    if as_json:
        click.echo(json.dumps({"routines": rows, "problems": problems}, indent=2, ensure_ascii=False))
        return
    for problem in problems:
        click.echo(f"Warning: {problem}", err=True)
    if not rows:
        click.echo(
            'No routines yet. Add one: nanofolks routines add --name morning --message "..." --schedule "0 9 * * *"'
        )
        return
    table = []
    for row in rows:
        when = f"every {row['every']} s" if row["every"] else f"{row['schedule']} {row['tz']}"
        last = f"{_when(row['lastRun'])} {row['lastStatus'] or ''}".strip() if row["lastRun"] else "-"
        result = (row["lastResult"] or "")[:60]
        table.append([row["name"], row["kind"], "paused" if row["paused"] else "active", when, row["room"],
                      _when(row["nextRun"]), last, f"{row['task'] or ''} {result}".strip()])  # fmt: skip
    print_table(["name", "kind", "state", "schedule", "room", "next run", "last run", "last result"], table)


@routines.command("remove")
@click.argument("name")
@pass_app
def remove(app: App, name: str) -> None:
    """Remove one of your routines (a team routine can only be paused)."""
    routine = _find(app, name)
    if routine.kind == "team":
        raise UsageError(f"{name} is a team routine; pause it instead: `nanofolks routines pause {name}`")
    _store(app).remove(name)
    click.echo(f"Removed routine {name}.")


def _set_paused(app: App, name: str, paused: bool) -> None:
    routine = _find(app, name)
    _store(app).set_paused(name, paused, team=routine.kind == "team")
    click.echo(f"{'Paused' if paused else 'Resumed'} routine {name}.")


@routines.command("pause")
@click.argument("name")
@pass_app
def pause(app: App, name: str) -> None:
    """Stop running a routine until it is resumed."""
    _set_paused(app, name, True)


@routines.command("resume")
@click.argument("name")
@pass_app
def resume(app: App, name: str) -> None:
    """Run a paused routine again from its next time."""
    _set_paused(app, name, False)


@routines.command("run")
@click.argument("name")
@click.option("--timeout", type=float, default=RUN_TIMEOUT, show_default=True, help="Seconds to wait for the answer.")
@pass_app
def run(app: App, name: str, timeout: float) -> None:
    """Run a routine now: in the running gateway if there is one, else in this process."""
    routine = _find(app, name)
    store = _store(app)
    if running_gateway(app.data_root):
        entry = _run_in_gateway(store, name, timeout)
    else:
        entry = asyncio.run(_run_here(app, store, routine, timeout))
    status, result = entry.get("lastStatus"), entry.get("lastResult") or ""
    task = f" (task {entry['task']} in room {entry.get('room')})" if entry.get("task") else ""
    click.echo(f"Routine {name}: {status}{task}: {result}")
    if status != "done":
        raise SystemExit(1)


async def _run_here(app: App, store: RoutineStore, routine: Routine, timeout: float) -> dict[str, Any]:
    async with InProcessCrew(app) as crew:
        return await run_routine(crew, store, routine, trigger="manual", timeout=timeout)


def _run_in_gateway(store: RoutineStore, name: str, timeout: float) -> dict[str, Any]:
    request_id = store.request_run(name)
    request_file = store.requests_dir / f"{request_id}.json"
    picked_by = time.monotonic() + PICK_UP_SECONDS
    deadline = time.monotonic() + timeout + 5
    while time.monotonic() < deadline:
        if request_file.exists() and time.monotonic() > picked_by:
            request_file.unlink(missing_ok=True)
            raise UsageError(
                f"the running gateway did not take the request within {PICK_UP_SECONDS:.0f} s: is the routines "
                "service running in it (`curl localhost:PORT/health`, services.routines)? Restart the gateway after "
                "installing or enabling nanofolks-routines"
            )
        entry = store.read_state().get(name, {})
        if entry.get("skippedRequest") == request_id:
            raise UsageError(f"routine {name} is running already; try again when that run is done")
        if entry.get("request") == request_id and not entry.get("running"):
            return entry
        time.sleep(0.2)
    raise UsageError(f"the gateway did not finish routine {name} within {timeout:.0f} s; see `nanofolks routines list`")
