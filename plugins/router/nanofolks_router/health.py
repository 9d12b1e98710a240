"""``doctor(repair)`` for the router: is ``routing.db`` sound and private?

Each result is a :class:`~nanofolks_core.api.Check`; a repaired one is ``ok`` with ``repaired``
set. A damaged database is never deleted: it is renamed ``routing.db.damaged-<time>`` and a new
one started (sticky room tiers and cost analytics start over; routing itself needs neither).
"""

from __future__ import annotations

from nanofolks_core.api import Check, NanofolksError
from nanofolks_router.store import RoutingStore

NAME = "routing database"


def check_store(store: RoutingStore, repair: bool) -> list[Check]:
    """One check: the database opens and ``PRAGMA integrity_check`` finds nothing wrong."""
    if not store.path.exists():
        return [Check(NAME, True, f"{store.path}: not created yet (no routing state recorded)")]
    earlier = len(store.moved_aside)
    try:
        problems = store.integrity_problems()
    except NanofolksError as exc:
        return [Check(NAME, False, str(exc))]
    moved = store.moved_aside[earlier:]
    if moved:  # found damaged on open and already replaced
        return [Check(NAME, True, f"{store.path} was damaged; moved it to {moved[0][1].name}", repaired=True)]
    if not problems:
        return [Check(NAME, True, f"{store.path}: intact")]
    found = "; ".join(problems[:3])
    if not repair:
        return [Check(NAME, False, f"{store.path} is damaged ({found}); `--repair` moves it aside and starts anew")]
    target = store.replace_damaged(found)
    where = target.name if target else "(gone)"
    return [Check(NAME, True, f"{store.path} was damaged ({found}); moved it to {where}", repaired=True)]
