"""Entry module of ``nanofolks-routines``: the ``routines`` command, the ``routines`` service the
gateway runs, and one check-in for every team (the Leader's morning summary of open tasks).
Imports only the core's API; cronsim and the scheduler load when used."""

from __future__ import annotations

from nanofolks_core.api import CommandSpec, RoutineSpec, ServiceSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_commands(register):
    register(
        CommandSpec(
            name="routines",
            summary="Reminders and recurring tasks the crew runs on a schedule; the teams' check-ins.",
            factory="nanofolks_routines.cli:routines",
        )
    )


@hookimpl
def nanofolks_register_services(register):
    register(
        ServiceSpec(
            name="routines",
            summary="Runs the routines on time inside the gateway",
            factory="nanofolks_routines.service:RoutineService",
        )
    )


#: The Leader's morning summary: no model call on a day without open tasks in the room; it waits
#: while the user is talking there. ``nanofolks routines pause leader-daily-summary`` turns it off.
DAILY_SUMMARY = RoutineSpec(
    name="leader-daily-summary",
    summary="Each weekday at 09:00 the Leader sums up the open tasks of the general room",
    message=(
        "Good morning! These tasks are open in this room:\n{open_tasks}\n"
        "Give a short summary: what is open, who owns it, what is due first, and one suggestion for today."
    ),
    schedule="0 9 * * 1-5",
    bot="leader",
    needs_open_tasks=True,
    quiet_seconds=300.0,
)


@hookimpl
def nanofolks_register_routines(register):
    register(DAILY_SUMMARY)
