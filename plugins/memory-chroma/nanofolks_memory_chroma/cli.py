"""``nanofolks memory``: status, search and forget, on the memory the crew uses."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from nanofolks_core.api import App, UsageError
from nanofolks_memory_chroma.from_app import MemoryOff, backend_from_app

pass_app = click.make_pass_decorator(App, ensure=True)


def _human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


@click.group()
def memory() -> None:
    """Show memory statistics, search what the crew remembers, and forget things.

    \b
    Memory lives in <data root>/memory/: memory.db (SQLite event log, entities,
    relations, preferences) and chroma/ (the semantic search index).
    """


@memory.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Counts, sizes on disk, backend and embedding model; learned preferences and top entities."""
    try:
        backend = backend_from_app(app)
    except MemoryOff as exc:
        click.echo(json.dumps({"enabled": False, "note": str(exc)}) if as_json else f"Memory is off: {exc}")
        return
    try:
        data = backend.status()
        usable = backend.store is not None
        preferences, entities = (backend.preferences(), backend.entities(10)) if usable else ([], [])
    finally:
        backend.close()
    if as_json:
        click.echo(
            json.dumps(
                {"enabled": True, **data, "learned_preferences": preferences, "top_entities": entities}, indent=2
            )
        )
        return
    sizes = data["size_bytes"]
    rows = [
        ("backend", data["backend"]),
        (
            "messages",
            f"{data['messages']} in {data['rooms']} room(s)"
            + (f", {data['unindexed']} not searchable yet" if data["unindexed"] else ""),
        ),
        ("vectors", str(data["vectors"])),
        ("entities", str(data["entities"])),
        ("relations", str(data["relations"])),
        ("preferences", str(data["preferences"])),
        ("embedding", data["embedding_model"]),
        ("vector store", f"{data['vector_store']} (collection {data['collection']})"),
        ("database", f"{data['database']} ({_human_size(sizes['database'])})"),
    ]
    if not data["vector_store"].startswith("server"):
        rows.append(("vector files", _human_size(sizes["vectors"])))
    if data["last_error"]:
        rows.append(("last error", data["last_error"]))
    if data["unavailable"]:
        rows.insert(0, ("state", data["unavailable"]))
    elif data["search_unavailable"]:
        rows.insert(0, ("state", data["search_unavailable"]))
    click.echo("Memory")
    for label, value in rows:
        click.echo(f"  {label + ':':<14}{value}")
    if data["repairs"]:
        click.echo("\nRepairs (damaged files are moved aside, never deleted):")
        for repair in data["repairs"]:
            moved = f" -> {', '.join(repair['moved'])}" if repair.get("moved") else ""
            click.echo(f"  {_date(repair.get('ts', 0))}  {repair.get('problem')}{moved}; {repair.get('action')}")
    if preferences:
        click.echo("\nPreferences learned:")
        for pref in preferences:
            times = f" ({pref['times']}x)" if pref["times"] > 1 else ""
            click.echo(f"  {pref['id']:<10} {pref['statement']}{times}")
    if entities:
        click.echo("\nMost mentioned:")
        for entity in entities:
            click.echo(f"  {entity['id']:<10} {entity['name']} ({entity['kind']}, {entity['mentions']} mention(s))")


@memory.command("search")
@click.argument("query")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many results.")
@click.option("--room", help="Only memories from this room.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def search(app: App, query: str, limit: int, room: str | None, as_json: bool) -> None:
    """Search what the crew remembers, best match first.

    \b
    Messages are ranked by meaning ("pet" finds "my dog Rex") and by their words
    (names, places, dates), fused; facts, people/places/things and preferences that
    the query names are listed too, each labelled (message, fact, entity, preference).
    --room searches that room's messages only.
    """
    if not query.strip():
        raise UsageError('the search query is empty; try e.g. `nanofolks memory search "travel plans"`')
    backend = backend_from_app(app)
    try:
        hits = backend.search(query, limit=limit, room=room)
    finally:
        backend.close()
    rows: list[dict[str, Any]] = [
        {
            "id": hit.id,
            "kind": hit.kind,
            "score": round(hit.score, 4),
            "room": hit.room,
            "ts": hit.ts,
            "date": _date(hit.ts),
            "text": hit.text,
        }
        for hit in hits
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No memories found" + (f" in room {room}." if room else "."))
        return
    for rank, row in enumerate(rows, 1):
        text = " ".join(row["text"].split())
        where = f"  #{row['room']}" if row["room"] else ""
        click.echo(f"{rank:>2}. [{row['score']:.2f}] {row['kind']:<10} {row['date']}{where}  {text}")
        click.echo(f"    id: {row['id']}")


@memory.command("forget")
@click.argument("entry_id", required=False)
@click.option("--room", help="Forget everything remembered from this room.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def forget(app: App, entry_id: str | None, room: str | None, yes: bool) -> None:
    """Forget one memory (an id from `memory search` or `memory status`) or a whole room."""
    if entry_id is None and room is None:
        raise UsageError(
            "say what to forget: a memory id (from `nanofolks memory search` or `nanofolks memory "
            "status`), or --room ROOM for everything remembered from a room"
        )
    if entry_id is not None and room is not None:
        raise UsageError("give either a memory id or --room ROOM, not both")
    backend = backend_from_app(app)
    try:
        if room is not None:
            count = backend.room_count(room)
            if not count:
                click.echo(f"Nothing remembered from room {room}.")
                return
            what = f"all {count} message(s) remembered from room {room} (and what was learned from them)"
        else:
            description = backend.describe(entry_id)
            if description is None:
                raise UsageError(
                    f"no memory with id {entry_id!r}; find ids with `nanofolks memory search` "
                    "or `nanofolks memory status`"
                )
            what = description
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    f"not forgetting {what} without confirmation, and there is no terminal to ask on; "
                    "add --yes to confirm"
                )
            click.confirm(f"Forget {what}?", abort=True)
        removed = backend.forget(entry_id=entry_id, room=room)
    finally:
        backend.close()
    click.echo(f"Forgot {removed} entr{'y' if removed == 1 else 'ies'}.")


@memory.command("doctor")
@click.option("--repair", is_flag=True, help="Move damaged files aside (never delete them) and rebuild them.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def doctor(app: App, repair: bool, as_json: bool) -> None:
    """Check the memory database and search index; --repair rebuilds one from the other.

    \b
    A damaged memory.db is moved aside and rebuilt from the search index; a damaged
    search index is moved aside and rebuilt from memory.db (re-embedding every message).
    Exit status 1 while a problem remains.
    """
    backend = backend_from_app(app)
    try:
        checks = backend.doctor(repair=repair)
    finally:
        backend.close()
    if as_json:
        click.echo(
            json.dumps(
                [{"name": c.name, "ok": c.ok, "detail": c.detail, "repaired": c.repaired} for c in checks], indent=2
            )
        )
    else:
        for check in checks:
            label = "FAIL " if not check.ok else ("fixed" if check.repaired else "ok   ")
            click.echo(f"{label}  {check.name}: {check.detail}")
    if any(not check.ok for check in checks):
        raise click.exceptions.Exit(1)
