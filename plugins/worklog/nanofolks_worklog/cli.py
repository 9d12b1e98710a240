"""``nanofolks worklog list | show | search | export | prune``."""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from typing import Any

import click

from nanofolks_core.api import UsageError, data_root, for_terminal, print_table
from nanofolks_worklog.query import SINCE_HELP, local_time, one_line, parse_since, public
from nanofolks_worklog.store import KINDS, worklog_for

#: What ``list`` and ``search`` show unless ``--kind`` says otherwise (model calls are counted by
#: ``nanofolks metrics``; listed one by one they would bury the work).
WORK_KINDS = tuple(kind for kind in KINDS if kind != "llm")
EXPORT_FIELDS = (
    "id",
    "time",
    "kind",
    "room",
    "bot",
    "channel",
    "routine",
    "name",
    "outcome",
    "seconds",
    "model",
    "provider",
    "tier",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "summary",
    "detail",
)


#: What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert_cell(value: Any) -> Any:
    """Text a user or a model wrote, made safe to open in a spreadsheet: a cell that would start a
    formula gets a leading ``'`` (OWASP's advice), so ``=HYPERLINK(...)`` stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _filters(function):
    function = click.option(
        "--kind",
        "kinds",
        multiple=True,
        type=click.Choice(KINDS),
        help="Only entries of this kind (repeat for several; default: all but llm).",
    )(function)
    function = click.option("--bot", help="Only entries of this bot (leader, coder ...).")(function)
    function = click.option("--room", help="Only entries of this room.")(function)
    function = click.option("--since", help=SINCE_HELP)(function)
    return function


def _query(since: str | None, room: str | None, bot: str | None, kinds: tuple[str, ...], **extra: Any):
    return worklog_for(data_root()).query(
        since=parse_since(since),
        room=room,
        bot=bot.lower().lstrip("@") if bot else None,
        kinds=tuple(kinds) or WORK_KINDS,
        **extra,
    )


def _print(entries: list[dict[str, Any]], as_json: bool, empty: str) -> None:
    if as_json:
        click.echo(json.dumps([public(entry) for entry in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        click.echo(empty)
        return
    rows = [
        (
            str(entry["id"]),
            local_time(entry["ts"]),
            entry["kind"],
            entry["room"] or "-",
            entry["bot"] or "-",
            entry["outcome"] or "-",
            for_terminal(one_line(entry["summary"])),
        )
        for entry in entries
    ]
    print_table(("ID", "TIME", "KIND", "ROOM", "BOT", "OUTCOME", "WHAT"), rows)


@click.group("worklog")
def worklog() -> None:
    """What the crew did: turns, tool calls, delegations, room tasks, files written.

    \b
    Kept in <data folder>/plugins/worklog/worklog.db; credentials appear only as {{name}}
    references. `nanofolks metrics` sums it up.
    """


@worklog.command("list")
@_filters
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_entries(since, room, bot, kinds, limit, as_json) -> None:
    """List the newest entries first."""
    entries = _query(since, room, bot, kinds, limit=limit)
    _print(entries, as_json, "Nothing in the work log matches." if (since or room or bot) else "The work log is empty.")


@worklog.command("show")
@click.argument("entry_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(entry_id: int, as_json: bool) -> None:
    """Show one entry with everything recorded about it."""
    entry = worklog_for(data_root()).get(entry_id)
    if entry is None:
        raise UsageError(f"no work-log entry {entry_id}; see the ids with `nanofolks worklog list`")
    if as_json:
        click.echo(json.dumps(public(entry), indent=2, ensure_ascii=False))
        return
    shown = public(entry)
    detail = shown.pop("detail", {})
    summary = shown.pop("summary", "")
    for key, value in shown.items():
        click.echo(f"{key + ':':<18} {for_terminal(str(value))}")
    click.echo(f"{'summary:':<18} {for_terminal(summary)}")
    click.echo("detail:")
    click.echo(for_terminal(json.dumps(detail, indent=2, ensure_ascii=False)))


@worklog.command("search")
@click.argument("text")
@_filters
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1), help="At most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(text: str, since, room, bot, kinds, limit, as_json) -> None:
    """Entries whose text contains every word of TEXT (any case), newest first."""
    words = tuple(text.split())
    if not words:
        raise UsageError('give some words to search for, e.g. `nanofolks worklog search "landing page"`')
    entries = _query(since, room, bot, kinds, words=words, limit=limit)
    _print(entries, as_json, f"Nothing in the work log mentions {text!r}.")


@worklog.command("export")
@_filters
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write to this file (default: stdout)."
)
def export(since, room, bot, kinds, fmt: str, output: str | None) -> None:
    """Export entries, oldest first, as JSON lines or CSV (`--kind llm` for the model calls)."""
    entries = _query(since, room, bot, kinds, newest_first=False)
    buffer = io.StringIO()
    if fmt == "jsonl":
        for entry in entries:
            buffer.write(json.dumps(public(entry), ensure_ascii=False) + "\n")
    else:
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for entry in entries:
            row = public(entry)
            row["detail"] = json.dumps(row.get("detail", {}), ensure_ascii=False)
            writer.writerow({key: _inert_cell(value) for key, value in row.items()})
    if output is None:
        sys.stdout.write(buffer.getvalue())
        return
    try:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"Exported {len(entries)} entries to {output}.", err=True)


@worklog.command("prune")
@click.option("--before", required=True, help="Delete entries older than this: 90d, 2w, or a date like 2026-01-01.")
def prune(before: str) -> None:
    """Delete old entries (the work log otherwise keeps everything)."""
    cutoff = parse_since(before, option="--before")
    if cutoff is None or cutoff > time.time():
        raise UsageError(f"--before {before!r} is not in the past")
    count = worklog_for(data_root()).prune(cutoff)
    click.echo(f"Deleted {count} entries from before {local_time(cutoff)}.")
