"""``worklog_search``: the crew looks up its own past work ("what did we do on the landing page last week?")."""

from __future__ import annotations

from nanofolks_core.api import ToolContext
from nanofolks_worklog.query import iso_time, one_line, parse_since
from nanofolks_worklog.store import worklog_for

#: Entries returned to the model per search.
RESULTS = 20


def worklog_search(query: str, context: ToolContext, since: str | None = None, room: str | None = None) -> str:
    """Search the crew's work log: past messages, tool calls, delegations, tasks and files written.

    Every word of the query must appear in an entry. Results are newest first, one per line.

    Args:
        query: words to look for, e.g. "landing page"
        since: only entries from this time on: 7d, 12h, 2w, or a date like 2026-11-01
        room: only entries of this room (default: every room)
    """
    words = tuple(query.split())
    if not words:
        return "error: give some words to search for"
    entries = worklog_for(context.services.data_root).query(
        since=parse_since(since),
        room=room or None,
        kinds=("turn", "tool", "delegation", "task", "artifact"),
        words=words,
        limit=RESULTS,
    )
    if not entries:
        return f"nothing in the work log mentions {query!r}" + (f" since {since}" if since else "")
    lines = [
        f"#{e['id']} {iso_time(e['ts'])} {e['kind']} room={e['room'] or '-'} bot={e['bot'] or '-'} "
        f"{e['outcome'] or ''}: {one_line(e['summary'], 300)}"
        for e in entries
    ]
    return "\n".join(lines)
