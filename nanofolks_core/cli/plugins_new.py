"""``nanofolks plugins new``: write a ready plugin distribution to start from."""

from __future__ import annotations

from pathlib import Path

import click

from nanofolks_core.errors import UsageError
from nanofolks_core.scaffold import KINDS, Names, ScaffoldError, write

_KIND_HELP = "; ".join(f"{kind}: {text}" for kind, text in KINDS.items())


@click.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(list(KINDS)), required=True, help=f"What the plugin adds. {_KIND_HELP}.")
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder to create the plugin's folder in.",
)
def new_plugin(name: str, kind: str, parent: Path) -> None:
    """Write a new plugin distribution NAME: pyproject, package, README and tests.

    \b
    The folder is nanofolks-NAME (nanofolks-team-NAME for a team). Then:
      cd nanofolks-NAME && pip install -e . && pytest
    """
    try:
        names = Names.parse(name, kind)
        _check_name_is_free(names)
        target = write(names, parent)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    files = sorted(str(path.relative_to(target)) for path in target.rglob("*") if path.is_file())
    click.echo(f"Created {target} ({names.dist}, entry point {names.entry!r}, kind {kind}):")
    for rel in files:
        click.echo(f"  {rel}")
    click.echo(f"\nNext:\n  cd {target}\n  pip install -e .\n  pytest\n  nanofolks plugins info {names.entry}")


def _check_name_is_free(names: Names) -> None:
    """Refuse names a plugin could not use: names are unique, and the first to register one keeps it."""
    from nanofolks_core.builtins import core
    from nanofolks_core.cli import CORE_COMMANDS
    from nanofolks_core.plugins import PluginHost, installed_entry_points

    installed = {entry.name: entry.dist_name for entry in installed_entry_points()}
    if names.entry in installed:
        raise ScaffoldError(
            f"a plugin named {names.entry!r} is already installed ({installed[names.entry]}); choose another NAME"
        )
    host = PluginHost(strict=True, trace=False)
    host.register_module(core, "core")
    built_in = set(host.build_registry().names(names.kind))
    if names.kind == "command":
        built_in |= set(CORE_COMMANDS)
    if names.spec in built_in:
        raise ScaffoldError(f"nanofolks already has a {names.kind} named {names.spec!r}; choose another NAME")
