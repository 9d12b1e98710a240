"""``nanofolks team``: list, show and switch team personas."""

from __future__ import annotations

import difflib
import json
from typing import Any

import click

from nanofolks_core import config as config_mod
from nanofolks_core.app import App
from nanofolks_core.cli.table import print_table
from nanofolks_core.crew.roles import ROLE_ORDER, ROLES
from nanofolks_core.crew.team import Team, TeamFileError, load_team, resolve_team
from nanofolks_core.errors import UsageError
from nanofolks_core.plugins import DISABLED_ENV
from nanofolks_core.text import for_terminal, json_for_terminal

pass_app = click.make_pass_decorator(App, ensure=True)


@click.group()
def team() -> None:
    """List, show and switch team personas.

    A team dresses the six crew roles as characters (a pirate crew, a space crew ...).
    Teams come from plugins: `pip install nanofolks-team-pirate`, then `nanofolks team use pirate`.
    """


def _active(app: App) -> str:
    return app.config.team


def _unknown_team(app: App, name: str) -> UsageError:
    available = app.registry.names("team")
    record = app.host.records.get(f"team-{name}")
    if record is not None and record.state == DISABLED_ENV:
        hint = f" Its plugin team-{name} is {record.state}: {record.reason}."
    elif record is not None and not record.loaded:
        hint = f" Its plugin team-{name} is {record.state}; enable it with `nanofolks plugins enable team-{name}`."
    else:
        close = difflib.get_close_matches(name, available, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Install one with `pip install nanofolks-team-{name}`."
    return UsageError(f"no team named {name!r} is available. Available teams: {', '.join(available)}.{hint}")


@team.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def list_teams(app: App, as_json: bool) -> None:
    """List available teams; the active one (config key `team`) is marked with *."""
    active = _active(app)
    rows: list[dict[str, Any]] = []
    for spec in app.registry.all("team"):
        row = {
            "name": spec.name,
            "title": spec.title,
            "vibe": "",
            "plugin": app.registry.owner("team", spec.name),
            "active": spec.name == active,
            "error": None,
        }
        try:
            loaded = load_team(spec)
            row["title"], row["vibe"] = loaded.title, loaded.vibe
        except TeamFileError as exc:
            row["error"] = str(exc)
        rows.append(row)
    if as_json:
        click.echo(json_for_terminal(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    # Titles and vibes come from plugins' team files: print_table cleans them before measuring.
    print_table(
        ("", "NAME", "TITLE", "VIBE", "PLUGIN"),
        [("*" if r["active"] else "", r["name"], r["title"], r["vibe"] or "(broken)", r["plugin"]) for r in rows],
    )
    for row in rows:
        if row["error"]:
            click.echo(f"\nwarning: {for_terminal(row['error'])}")
    if active not in {r["name"] for r in rows}:
        click.echo(
            f"\nwarning: config.json selects team {for_terminal(repr(active))}, which is not available; "
            "the crew uses 'default'."
        )


def _team_data(loaded: Team) -> dict[str, Any]:
    characters = []
    for role in ROLE_ORDER:
        character = loaded.character(role)
        characters.append(
            {
                "role": role,
                "role_title": ROLES[role].title,
                "name": character.name,
                "emoji": character.emoji,
                "greeting": character.greeting,
                "personality": character.personality,
                "voice": character.voice,
                "catchphrases": list(character.catchphrases),
                "mentions": [f"@{alias}" for alias in loaded.mentions_for(role)],
            }
        )
    return {
        "name": loaded.name,
        "title": loaded.title,
        "vibe": loaded.vibe,
        "description": loaded.description,
        "characters": characters,
    }


@team.command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, name: str | None, as_json: bool) -> None:
    """Show a team's six characters (NAME defaults to the active team)."""
    warning = None
    if name is None:
        loaded, warning = resolve_team(app.registry, _active(app))
    else:
        spec = app.registry.get("team", name)
        if spec is None:
            raise _unknown_team(app, name)
        loaded = load_team(spec)
    data = _team_data(loaded)
    if as_json:
        click.echo(json_for_terminal(json.dumps(data | {"warning": warning}, indent=2, ensure_ascii=False)))
        return
    if warning:
        click.echo(f"warning: {for_terminal(warning)}\n", err=True)
    # Team files come from plugins: their texts are printed like any stored text.
    click.echo(for_terminal(f"{loaded.title} ({loaded.name}) - {loaded.vibe}"))
    click.echo(for_terminal(loaded.description))
    for character in data["characters"]:
        click.echo(for_terminal(f"\n{character['emoji']}  {character['name']} - {character['role_title']}"))
        click.echo(for_terminal(f"    reach: {' '.join(character['mentions'])}"))
        click.echo(for_terminal(f'    "{character["greeting"]}"'))


@team.command("use")
@click.argument("name")
@pass_app
def use(app: App, name: str) -> None:
    """Make NAME the active team (saved as `team` in config.json)."""
    spec = app.registry.get("team", name)
    if spec is None:
        raise _unknown_team(app, name)
    loaded = load_team(spec)  # a broken team file is reported now, not at the next chat
    for clash in app.registry.conflicts_for("team", name):
        click.echo(f"warning: {clash}", err=True)

    def mutate(raw: dict[str, Any]) -> None:
        raw["team"] = name

    if _active(app) == name:
        click.echo(for_terminal(f"{loaded.title} ({name}) is already the active team."))
        return
    config_mod.update_raw(app.config_path, mutate)
    leader = loaded.character("leader")
    click.echo(for_terminal(f"Team set to {loaded.title} ({name}); saved to {app.config_path}."))
    click.echo(for_terminal(f'{leader.emoji}  {leader.name}: "{leader.greeting}"'))
