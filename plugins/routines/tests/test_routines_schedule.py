"""Next-run times with a fake clock: cron lines in their own zone across daylight-saving changes,
intervals, and the user's mistakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from nanofolks_routines.schedule import Schedule

from nanofolks_core.api import UsageError

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def runs(schedule: Schedule, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` run times after ``start``, as the service steps through them."""
    times, now = [], start
    for _ in range(count):
        now = schedule.next_after(now)
        times.append(now)
    return times


@pytest.mark.parametrize(
    ("zone", "start", "offsets", "change_gap"),
    [
        # Berlin springs forward on 2026-03-29 (+01:00 -> +02:00) and falls back on 2026-10-25.
        (BERLIN, datetime(2026, 3, 27, 12, tzinfo=UTC), ["+01:00", "+02:00", "+02:00", "+02:00"], 23),
        (BERLIN, datetime(2026, 10, 23, 12, tzinfo=UTC), ["+02:00", "+01:00", "+01:00", "+01:00"], 25),
        # New York: 2026-03-08 and 2026-11-01.
        (NEW_YORK, datetime(2026, 3, 6, 18, tzinfo=UTC), ["-05:00", "-04:00", "-04:00", "-04:00"], 23),
        (NEW_YORK, datetime(2026, 10, 30, 18, tzinfo=UTC), ["-04:00", "-05:00", "-05:00", "-05:00"], 25),
    ],
)
def test_a_0900_routine_stays_at_0900_local_time_across_a_dst_change(zone, start, offsets, change_gap):
    schedule = Schedule.parse(cron="0 9 * * *", every=None, tz=zone.key)
    times = runs(schedule, start, 4)
    local = [t.astimezone(zone) for t in times]
    assert [(t.hour, t.minute) for t in local] == [(9, 0)] * 4
    assert [t.isoformat()[-6:] for t in local] == offsets
    # One local day apart, which is 23 or 25 hours of real time over the change.
    gaps = [(times[i + 1] - times[i]) / timedelta(hours=1) for i in range(3)]
    assert gaps == [change_gap, 24, 24]


def test_a_time_inside_the_skipped_hour_runs_once_at_the_change():
    # 02:30 does not exist in Berlin on 2026-03-29: the run happens once, at 03:00 local (01:00 UTC).
    schedule = Schedule.parse(cron="30 2 * * *", every=None, tz="Europe/Berlin")
    times = runs(schedule, datetime(2026, 3, 28, 12, tzinfo=UTC), 3)
    local = [t.astimezone(BERLIN).strftime("%m-%d %H:%M") for t in times]
    assert local == ["03-29 03:00", "03-30 02:30", "03-31 02:30"]


def test_a_time_inside_the_repeated_hour_runs_once_not_twice():
    # 02:30 happens twice in Berlin on 2026-10-25 (+02:00, then +01:00): one run that day.
    schedule = Schedule.parse(cron="30 2 * * *", every=None, tz="Europe/Berlin")
    times = runs(schedule, datetime(2026, 10, 24, 12, tzinfo=UTC), 3)
    days = [t.astimezone(BERLIN).date().isoformat() for t in times]
    assert days == ["2026-10-25", "2026-10-26", "2026-10-27"]


def test_new_york_weekday_mornings_skip_the_weekend_across_the_change():
    schedule = Schedule.parse(cron="30 7 * * mon-fri", every=None, tz="America/New_York")
    times = runs(schedule, datetime(2026, 3, 6, 13, tzinfo=UTC), 3)  # Fri 08:00 EST, after 07:30
    local = [t.astimezone(NEW_YORK) for t in times]
    assert [t.strftime("%a %H:%M %z") for t in local] == ["Mon 07:30 -0400", "Tue 07:30 -0400", "Wed 07:30 -0400"]


def test_a_cron_line_is_read_in_its_zone_not_the_machines():
    schedule = Schedule.parse(cron="0 9 * * *", every=None, tz="Asia/Tokyo")
    nxt = schedule.next_after(datetime(2026, 6, 1, 0, 30, tzinfo=UTC))  # 09:30 in Tokyo
    assert nxt == datetime(2026, 6, 2, 0, 0, tzinfo=UTC)


def test_intervals_keep_their_rhythm_from_the_anchor():
    anchor = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    schedule = Schedule.parse(cron=None, every=5, tz=None)
    assert schedule.next_after(anchor, anchor=anchor) == anchor + timedelta(seconds=5)
    assert schedule.next_after(anchor + timedelta(seconds=7), anchor=anchor) == anchor + timedelta(seconds=10)
    assert schedule.next_after(anchor + timedelta(seconds=10), anchor=anchor) == anchor + timedelta(seconds=15)
    # Hours of downtime: the next run is the next slot after now, not the hundreds missed.
    later = anchor + timedelta(hours=3, seconds=1)
    assert schedule.next_after(later, anchor=anchor) == anchor + timedelta(hours=3, seconds=5)
    assert schedule.missed_since(anchor, later, anchor=anchor)
    assert not schedule.missed_since(later, later + timedelta(seconds=2), anchor=anchor)


def test_nicknames_and_spacing_are_accepted():
    assert Schedule.parse(cron="@daily", every=None, tz="UTC").cron == "0 0 * * *"
    assert Schedule.parse(cron="  0  9 * *   1-5 ", every=None, tz="UTC").cron == "0 9 * * 1-5"


@pytest.mark.parametrize(
    ("cron", "every", "tz", "says"),
    [
        ("61 * * * *", None, None, "invalid schedule '61 * * * *': bad minute"),
        ("0 9 * *", None, None, "five fields"),
        ("0 9 31 2 *", None, None, "invalid schedule"),
        ("every day", None, None, "five fields"),
        ("0 9 * * *", None, "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("0 9 * * *", None, "../etc/passwd", "unknown time zone"),
        (None, 0, None, "at least 1"),
        (None, -5, None, "at least 1"),
        (None, None, None, "exactly one"),
        ("0 9 * * *", 5, None, "exactly one"),
    ],
)
def test_bad_schedules_are_one_clear_line(cron, every, tz, says):
    with pytest.raises(UsageError) as caught:
        Schedule.parse(cron=cron, every=every, tz=tz)
    message = str(caught.value)
    assert says in message and "\n" not in message
