"""Every routine there is: the user's (routines.json) and the teams' (RoutineSpec from plugins).

A team routine runs only while its ``team`` is the configured one (``team`` in config.json), and
the user may pause it; its definition stays with the plugin that ships it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nanofolks_core.api import UsageError
from nanofolks_routines.schedule import Schedule, normalize_cron
from nanofolks_routines.store import Routine, RoutineStore

log = logging.getLogger("nanofolks.routines")


def configured_team(config_file: Path) -> str:
    """The ``team`` key of config.json (``default`` when unset or unreadable)."""
    try:
        data = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "default"
    team = data.get("team") if isinstance(data, dict) else None
    return team if isinstance(team, str) and team else "default"


def team_routine(spec: Any, paused: bool) -> Routine:
    """A registered ``RoutineSpec`` as a Routine (UsageError when its cron line or zone is bad)."""
    schedule = Schedule.parse(
        cron=normalize_cron(spec.schedule) if spec.schedule else None, every=spec.every, tz=spec.tz
    )
    return Routine(
        name=spec.name,
        message=spec.message,
        schedule=schedule,
        room=spec.room,
        bot=spec.bot,
        kind="team",
        paused=paused,
        summary=spec.summary,
        needs_open_tasks=spec.needs_open_tasks,
        quiet_seconds=float(spec.quiet_seconds),
    )


def team_routines(
    registered: Callable[[str], list[Any]], team: str, paused: set[str]
) -> tuple[list[Routine], list[str]]:
    """The team routines that apply to ``team``, and a problem line per routine that cannot run."""
    routines, problems = [], []
    for spec in registered("routine"):
        if spec.team is not None and spec.team != team:
            continue
        try:
            routines.append(team_routine(spec, spec.name in paused))
        except UsageError as exc:
            problems.append(f"team routine {spec.name}: {exc}")
    return routines, problems


def all_routines(
    store: RoutineStore, registered: Callable[[str], list[Any]], team: str
) -> tuple[list[Routine], list[str]]:
    """User routines first, then team routines (a team routine named like a user's is left out)."""
    users, problems = store.user_routines_and_problems()
    teams, team_problems = team_routines(registered, team, store.team_paused())
    names = {routine.name for routine in users}
    for routine in teams:
        if routine.name in names:
            team_problems.append(f"team routine {routine.name}: a routine of yours has that name, so it is not run")
    return [*users, *(r for r in teams if r.name not in names)], [*problems, *team_problems]
