"""Reading the work log the way the commands and the tool ask: ``--since``, filters, rows to text."""

from __future__ import annotations

import re
import time
from datetime import date, datetime
from typing import Any

from nanofolks_core.api import UsageError

_AGO = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SINCE_HELP = "Only entries from this time on: 7d, 12h, 30m, 2w, or a date/time like 2026-11-01 or 2026-11-01T09:00."


def parse_since(value: str | None, *, now: float | None = None, option: str = "--since") -> float | None:
    """``"7d"`` -> the timestamp 7 days ago; ``"2026-11-01"`` -> local midnight that day; None -> None.

    Unreadable text, or an age too far back for a date, is a :class:`UsageError` naming ``option``.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().lower()
    now = time.time() if now is None else now
    match = _AGO.fullmatch(text)
    if match:
        try:
            moment = now - int(match[1]) * _UNIT_SECONDS[match[2]]
            datetime.fromtimestamp(moment)  # the time is shown and compared as a date later
        except (OverflowError, OSError, ValueError):
            raise UsageError(
                f"{option} {value!r} is too far back for a date; use a smaller age like 520w, or a date like 2000-01-01"
            ) from None
        return moment
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day).astimezone().timestamp()
        moment = datetime.fromisoformat(text.upper() if "t" in text else text)
    except ValueError:
        raise UsageError(
            f"cannot read {option} {value!r}: use an age like 7d, 12h, 30m, 2w, or a date like 2026-11-01"
        ) from None
    return (moment if moment.tzinfo else moment.astimezone()).timestamp()


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def one_line(text: str | None, limit: int = 70) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def public(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as ``--json`` and ``export`` print it: the time as ISO text, empty columns left out."""
    shown = {"id": entry["id"], "time": iso_time(entry["ts"])}
    shown.update({key: value for key, value in entry.items() if key not in ("id", "ts") and value is not None})
    return shown
