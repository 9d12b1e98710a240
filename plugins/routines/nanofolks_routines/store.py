"""Routines on disk, in the plugin's data folder (``<data root>/plugins/routines``)::

    routines.json   the user's routines, and which team routines the user paused (the CLI writes it)
    state.json      per routine: last run, its result and task, the last slot it ran for (the runner writes it)
    requests/       ``routines run NAME`` while a gateway runs: one small file per request
    routines.lock   the lock every writer of these files holds (an flock: a crashed writer never keeps it)

Every write is a crash-safe replace under the lock, so the CLI can change routines while the
gateway runs; the gateway notices by the file's modification time. A damaged ``routines.json`` is
never overwritten: commands stop with its name, the gateway keeps the routines it had.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from nanofolks_core.api import StorageError, UsageError, atomic_write_text, file_lock, private_dir
from nanofolks_routines.schedule import Schedule, parse_time

ROUTINES_FILE = "routines.json"
STATE_FILE = "state.json"
REQUESTS_DIR = "requests"
LOCK_FILE = "routines.lock"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MESSAGE_MAX = 4000


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid routine name {name!r}: use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


@attrs.frozen(kw_only=True)
class Routine:
    """One routine as the runner sees it (a user's from routines.json, or a team's from a RoutineSpec)."""

    name: str
    message: str
    schedule: Schedule
    room: str = "general"
    bot: str | None = None
    kind: str = "user"  # "user" | "team"
    paused: bool = False
    catch_up: bool = False
    created: datetime | None = None
    owner: str | None = None  # the plugin that ships a team routine
    summary: str = ""
    needs_open_tasks: bool = False
    quiet_seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The routines.json entry of a user routine."""
        return {
            "message": self.message,
            "schedule": self.schedule.cron,
            "every": self.schedule.every,
            "tz": self.schedule.tz,
            "room": self.room,
            "bot": self.bot,
            "paused": self.paused,
            "catchUp": self.catch_up,
            "created": self.created.isoformat() if self.created else None,
        }

    @classmethod
    def from_json(cls, name: str, data: dict[str, Any]) -> Routine:
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            raise ValueError(f"routine {name!r}: an entry needs a message")
        return cls(
            name=name,
            message=data["message"],
            schedule=Schedule(cron=data.get("schedule"), every=data.get("every"), tz=data.get("tz")),
            room=str(data.get("room") or "general"),
            bot=data.get("bot"),
            paused=bool(data.get("paused", False)),
            catch_up=bool(data.get("catchUp", False)),
            created=parse_time(data.get("created")),
        )


class RoutineStore:
    """The files of one data folder's routines (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.routines_path = self.folder / ROUTINES_FILE
        self.state_path = self.folder / STATE_FILE
        self.requests_dir = self.folder / REQUESTS_DIR

    @contextmanager
    def locked(self) -> Iterator[None]:
        try:
            private_dir(self.folder)
            with file_lock(self.folder / LOCK_FILE):
                yield
        except OSError as exc:
            raise StorageError(f"cannot write routines in {self.folder}: {exc.strerror or exc}") from exc

    # -- routines.json -------------------------------------------------------------------

    def read(self) -> dict[str, Any]:
        """The whole routines.json (``{"routines": {...}, "team": {name: {"paused": bool}}}``)."""
        try:
            text = self.routines_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"routines": {}, "team": {}}
        except OSError as exc:
            raise StorageError(f"cannot read {self.routines_path}: {exc.strerror or exc}") from exc
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("routines", {}), dict):
                raise ValueError("not an object with a 'routines' object")
        except ValueError as exc:
            raise StorageError(
                f"{self.routines_path} is damaged ({exc}); fix it by hand or move it aside "
                "(your routines are in it: nothing was changed)"
            ) from None
        data.setdefault("routines", {})
        data.setdefault("team", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
        atomic_write_text(self.routines_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def user_routines(self) -> list[Routine]:
        """The user's routines; an unreadable entry is left out (``problems`` says which)."""
        routines, _ = self.user_routines_and_problems()
        return routines

    def user_routines_and_problems(self) -> tuple[list[Routine], list[str]]:
        routines, problems = [], []
        for name, entry in sorted(self.read()["routines"].items()):
            try:
                routines.append(Routine.from_json(name, entry))
            except (ValueError, TypeError) as exc:
                problems.append(f"{self.routines_path}: {exc}")
        return routines, problems

    def team_paused(self) -> set[str]:
        return {name for name, entry in self.read().get("team", {}).items() if (entry or {}).get("paused")}

    def add(self, routine: Routine, *, taken: set[str] = frozenset()) -> None:
        """Store a new user routine; a name already used (also by a team routine) is a UsageError."""
        with self.locked():
            data = self.read()
            # "Morning" and "morning" would be two routines nobody can tell apart in a list.
            clash = next(
                (name for name in (*data["routines"], *taken) if name.casefold() == routine.name.casefold()), None
            )
            if clash is not None:
                raise UsageError(
                    f"a routine named {clash!r} already exists; pick another name "
                    f"or remove it first with `nanofolks routines remove {clash}`"
                )
            data["routines"][routine.name] = routine.to_json()
            self._write(data)

    def remove(self, name: str) -> bool:
        with self.locked():
            data = self.read()
            if name not in data["routines"]:
                return False
            del data["routines"][name]
            self._write(data)
        self.forget_state(name)
        return True

    def set_paused(self, name: str, paused: bool, *, team: bool) -> None:
        with self.locked():
            data = self.read()
            if team:
                data["team"].setdefault(name, {})["paused"] = paused
            else:
                data["routines"][name]["paused"] = paused
            self._write(data)

    def signature(self) -> tuple[int, int] | None:
        """Changes when routines.json changes (mtime in ns, size); None when there is none."""
        try:
            info = self.routines_path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    # -- state.json ----------------------------------------------------------------------

    def read_state(self) -> dict[str, dict[str, Any]]:
        """Per routine: ``lastRun``, ``lastSlot``, ``lastStatus``, ``lastResult``, ``task``, ``room`` ..."""
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # state is a record of runs, not a definition: a lost one only loses history
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def update_state(self, name: str, **fields: Any) -> dict[str, Any]:
        with self.locked():
            state = self.read_state()
            entry = state.setdefault(name, {})
            entry.update({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in fields.items()})
            atomic_write_text(self.state_path, json.dumps(state, indent=2, ensure_ascii=False) + "\n")
            return dict(entry)

    def forget_state(self, name: str) -> None:
        with self.locked():
            state = self.read_state()
            if state.pop(name, None) is not None:
                atomic_write_text(self.state_path, json.dumps(state, indent=2, ensure_ascii=False) + "\n")

    # -- run requests (``routines run NAME`` through a running gateway) ----------------------

    def request_run(self, name: str) -> str:
        """Ask the running gateway to run ``name`` now; returns the request id."""
        request_id = uuid.uuid4().hex[:12]
        with self.locked():
            private_dir(self.requests_dir)
            atomic_write_text(self.requests_dir / f"{request_id}.json", json.dumps({"name": name, "id": request_id}))
        return request_id

    def take_requests(self) -> list[dict[str, Any]]:
        """The pending run requests, removed from the folder (oldest first)."""
        if not self.requests_dir.is_dir():
            return []
        taken = []
        with self.locked():
            for path in sorted(self.requests_dir.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
                try:
                    request = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    request = None
                path.unlink(missing_ok=True)
                if isinstance(request, dict) and isinstance(request.get("name"), str):
                    taken.append(request)
        return taken
