"""``nanofolks doctor``: the core's own health checks plus every store's optional ``doctor()``.

Checked, in order: the config file (parsed and validated through the App), owner-only modes under
the data folder, every room's history (the session store's ``doctor``), the room files, then the
memory backend and the router when they offer ``doctor(repair: bool) -> list[Check]``. With
``repair`` damaged files are moved aside (never deleted) and what can be rebuilt from the intact
ones is rebuilt. One broken store never stops the checks of the others. Without ``repair``
nothing is written: no default room, no empty memory store (memory backends keep their files
under ``<data root>/memory``; without that folder there is nothing to check).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nanofolks_core import atomic
from nanofolks_core.contracts import Check
from nanofolks_core.errors import NanofolksError

if TYPE_CHECKING:
    from nanofolks_core.app import App

__all__ = ["Check", "run_checks"]

#: Folders under the data root holding the user's own files, whose modes are theirs to choose.
USER_FOLDERS = ("workspace",)


def run_checks(app: App, *, repair: bool = False) -> list[Check]:
    """Every check, in the order shown to the user."""
    checks = [check_config(app)]
    config_ok = checks[0].ok
    checks += check_permissions(app.data_root, repair=repair)
    # History first: re-creating a damaged room file reads the room's (then repaired) history.
    checks += _guarded("history", lambda: _sessions(app, config_ok).doctor(repair=repair))
    checks += _guarded("rooms", lambda: check_rooms(app, repair=repair))
    if config_ok and not repair and not (app.data_root / "memory").exists():
        # Building the memory backend creates its files; a check without --repair writes nothing.
        checks.append(Check("memory", True, f"nothing remembered yet ({app.data_root / 'memory'} does not exist)"))
        checks += _store_doctor("router", lambda: app.router, repair)
    elif config_ok:
        checks += _store_doctor("memory", lambda: app.memory, repair)
        checks += _store_doctor("router", lambda: app.router, repair)
    else:
        checks.append(Check("memory and router", False, "not checked: fix the config first (see above)"))
    return checks


def check_config(app: App) -> Check:
    """The config file parses and validates (with every installed plugin's sections)."""
    if not app.config_path.exists():
        return Check("config", True, f"{app.config_path} does not exist yet (defaults apply; `nanofolks onboard`)")
    try:
        app.config  # noqa: B018 - loading it is the check
    except NanofolksError as exc:
        return Check("config", False, f"{exc}")
    return Check("config", True, f"{app.config_path} is valid")


def check_permissions(data_root: Path, *, repair: bool) -> list[Check]:
    """Folders 0700 and files 0600 (no group/other access) under the data folder."""
    if not data_root.is_dir():
        return [Check("permissions", True, f"{data_root} does not exist yet")]
    loose: list[Path] = []
    me = os.geteuid()
    for folder, dirs, files in os.walk(data_root):
        if Path(folder) == data_root:
            dirs[:] = [d for d in dirs if d not in USER_FOLDERS]
        for name in [*dirs, *files, *([""] if Path(folder) == data_root else [])]:
            path = Path(folder, name) if name else Path(folder)
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(info.st_mode) or info.st_uid != me or not info.st_mode & 0o077:
                continue
            loose.append(path)
    if not loose:
        return [Check("permissions", True, f"everything under {data_root} is owner-only")]
    shown = ", ".join(str(p) for p in loose[:3]) + (f" and {len(loose) - 3} more" if len(loose) > 3 else "")
    if not repair:
        return [Check("permissions", False, f"readable by others: {shown}; run `nanofolks doctor --repair`")]
    try:
        for path in loose:
            os.chmod(path, stat.S_IMODE(path.lstat().st_mode) & ~0o077)
    except OSError as exc:
        return [Check("permissions", False, str(atomic.storage_error(exc, data_root)))]
    return [Check("permissions", True, f"made owner-only: {shown}", repaired=True)]


def check_rooms(app: App, *, repair: bool) -> list[Check]:
    """Every room file and the channel mappings; with ``repair`` a damaged room file is moved aside
    and the room re-created from its history (tasks cannot be recovered)."""
    from nanofolks_core.rooms import RoomType
    from nanofolks_core.rooms.files import MAPPINGS_NAME

    rooms = app.rooms
    found = rooms.scan(create_general=repair)  # a check without --repair writes nothing
    checks = []
    for problem in found.problems:
        path: Path = problem.path
        if not repair:
            checks.append(Check(f"room file {path.name}", False, f"{problem}"))
            continue
        aside = atomic.move_aside(path)
        if path.name == MAPPINGS_NAME:
            detail = f"moved damaged {path} aside to {aside.name}; chats fall back to 'general' until mapped again"
        else:
            room_id = path.stem
            bots = _bots_in_history(app, room_id)
            rooms.create(
                room_id,
                type=RoomType.OPEN if room_id == "general" else RoomType.PROJECT,
                participants=["leader", *bots],
                description="re-created by nanofolks doctor after its file was damaged",
            )
            detail = (
                f"moved damaged {path} aside to {aside.name}; re-created room {room_id!r} with "
                f"{', '.join(['leader', *bots])} (its history is kept; its tasks are in the moved file)"
            )
        checks.append(Check(f"room file {path.name}", True, detail, repaired=True))
    if not found.problems and not found.rooms:
        checks.append(Check("rooms", True, "no room files yet ('general' is created when first used)"))
    elif not found.problems:
        checks.append(Check("rooms", True, f"{len(found.rooms)} room file(s) readable"))
    return checks


def _bots_in_history(app: App, room_id: str) -> list[str]:
    from nanofolks_core.rooms import CREW_ROLES

    try:
        seen = {m.bot for m in app.sessions.read(room_id)}
    except Exception:  # noqa: BLE001 - a guess at participants is all this is
        return []
    return [role for role in CREW_ROLES[1:] if role in seen]


def _sessions(app: App, config_ok: bool) -> Any:
    """The configured session store; the file store when the config cannot be read."""
    if config_ok:
        return app.sessions
    from nanofolks_core.sessions import FileSessionStore

    return FileSessionStore(app.data_root / "sessions")


def _guarded(name: str, checks: Callable[[], list[Check]]) -> list[Check]:
    try:
        return list(checks())
    except Exception as exc:  # noqa: BLE001 - report it and go on with the other stores
        detail = str(exc) if isinstance(exc, NanofolksError) else f"{type(exc).__name__}: {exc}"
        return [Check(name, False, detail)]


def _store_doctor(name: str, build: Callable[[], Any], repair: bool) -> list[Check]:
    """Call ``store.doctor(repair)`` if the store has one."""
    try:
        store = build()
    except Exception as exc:  # noqa: BLE001 - a store that cannot even start is a finding
        return [Check(name, False, f"cannot start: {exc}")]
    if store is None:
        return [Check(name, True, "none configured")]
    doctor = getattr(store, "doctor", None)
    if doctor is None:
        return [Check(name, True, f"{type(store).__name__} offers no checks")]
    return _guarded(name, lambda: doctor(repair=repair))
