"""``nanofolks config``: show, lint and locate the config file."""

from __future__ import annotations

import json

import click

from nanofolks_core import config as config_mod
from nanofolks_core.app import App

pass_app = click.make_pass_decorator(App, ensure=True)


@click.group()
def config() -> None:
    """Show, check and locate the config file (NANOFOLKS_HOME/config.json)."""


@config.command("path")
@pass_app
def path(app: App) -> None:
    """Print the config file's path."""
    click.echo(str(app.config_path))


@config.command("show")
@pass_app
def show(app: App) -> None:
    """Print the effective config as JSON, defaults filled in and secrets masked."""
    click.echo(json.dumps(config_mod.to_dict(app.config), indent=2))


@config.command("lint")
@pass_app
def lint(app: App) -> None:
    """Validate the whole file without starting anything; exit 2 if it is invalid."""
    result = app.loaded
    for warning in result.warnings:
        click.echo(f"warning: {warning}")
    for record in app.host.report():
        if record.state == "failed":
            click.echo(f"warning: plugin {record.name} failed to load ({record.reason}); its sections were not checked")
    exists = app.config_path.exists()
    click.echo(f"{app.config_path}: OK" + ("" if exists else " (no file yet; defaults apply)"))
