"""When a routine runs: a cron line in the routine's own zone, or every N seconds.

Cron lines are evaluated by cronsim on aware datetimes in the routine's zone, so daylight-saving
changes follow the zone the user named: a daily 02:30 in Europe/Berlin runs once at 03:00 on the
day the clocks skip 02:00-03:00 and once (not twice) on the day 02:00-03:00 repeats; 09:00 stays
09:00 local time through both changes. Intervals are plain elapsed seconds, zone-free.

All functions take ``now`` / ``after`` as arguments (no clock of their own) so tests drive them
with a fake clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from nanofolks_core.api import UsageError

#: Cron nicknames cronsim does not read itself.
NICKNAMES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}

CRON_HELP = (
    "a cron line has five fields: minute hour day-of-month month day-of-week, "
    'e.g. "0 9 * * *" (09:00 every day) or "*/15 9-17 * * mon-fri"'
)


def local_zone_name() -> str:
    """The machine's zone name (``TZ`` or /etc/localtime), ``"UTC"`` when it cannot be told."""
    import os

    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return "UTC"
    marker = "/zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else "UTC"


def zone(name: str | None) -> ZoneInfo:
    """The ``ZoneInfo`` for ``name`` (None: the machine's zone); an unknown name is a UsageError."""
    text = (name or local_zone_name()).strip()
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"unknown time zone {text!r}: use an IANA zone name such as Europe/Berlin, America/New_York or UTC"
        ) from None


def normalize_cron(expression: str) -> str:
    """``expression`` with nicknames expanded and spaces tidied; a bad line is a UsageError."""
    from cronsim import CronSim, CronSimError

    text = " ".join(str(expression).split())
    text = NICKNAMES.get(text.lower(), text)
    if len(text.split()) != 5:
        raise UsageError(f"invalid schedule {expression!r}: {CRON_HELP}")
    try:
        next(CronSim(text, datetime(2000, 1, 1, tzinfo=UTC)))
    except CronSimError as exc:
        raise UsageError(f"invalid schedule {expression!r}: {str(exc).lower()}; {CRON_HELP}") from None
    except StopIteration:
        raise UsageError(f"invalid schedule {expression!r}: it never runs; {CRON_HELP}") from None
    return text


@attrs.frozen
class Schedule:
    """``cron`` (five fields) in ``tz``, or ``every`` seconds; exactly one is set."""

    cron: str | None = None
    every: int | None = None
    tz: str | None = None

    @classmethod
    def parse(cls, *, cron: str | None, every: Any, tz: str | None) -> Schedule:
        """Check and build a schedule from user input (UsageError naming what is wrong)."""
        if (cron is None) == (every is None):
            raise UsageError('give exactly one of --schedule "CRON" and --every SECONDS')
        if every is not None:
            if isinstance(every, bool) or not isinstance(every, int) or every < 1:
                raise UsageError(f"--every must be a whole number of seconds, at least 1 (got {every!r})")
            if tz is not None:
                zone(tz)  # still refuse a zone that does not exist
            return cls(every=every, tz=tz)
        zone(tz)
        return cls(cron=normalize_cron(cron), tz=tz)

    def describe(self) -> str:
        if self.every is not None:
            return f"every {self.every} s"
        return f"{self.cron} ({self.tz or local_zone_name()})"

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime:
        """The first run strictly after ``after`` (aware). For intervals, runs fall on
        ``anchor + k * every`` (anchor: when the routine was made), so restarts keep the rhythm."""
        if self.every is not None:
            step = timedelta(seconds=self.every)
            base = anchor or after
            if base > after:
                return base
            count = int((after - base) / step) + 1
            return base + count * step
        from cronsim import CronSim

        local = after.astimezone(zone(self.tz))
        return next(CronSim(self.cron, local)).astimezone(UTC)

    def missed_since(self, last_slot: datetime, now: datetime, *, anchor: datetime | None = None) -> bool:
        """Whether a run was due after ``last_slot`` and at or before ``now`` (the gateway was down)."""
        return self.next_after(last_slot, anchor=anchor) <= now


def utc_now() -> datetime:
    return datetime.now(UTC)


def parse_time(value: Any) -> datetime | None:
    """An ISO time from the state file (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
