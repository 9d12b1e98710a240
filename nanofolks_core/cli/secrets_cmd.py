"""``nanofolks secrets``: put credentials in the secret store, list their names, remove them.

Config then refers to them as ``"keyring:NAME"``; a message may use ``{{NAME}}``.
"""

from __future__ import annotations

import json
import re
import sys

import click

from nanofolks_core.app import App
from nanofolks_core.errors import UsageError

pass_app = click.make_pass_decorator(App, ensure=True)

_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise UsageError(f"secret name {value!r}: use 1-100 letters, digits, '_', '.' or '-'")
    return value


def _stores(app: App) -> list:
    stores = [store for store in app.secret_stores if store.available()]
    if not stores:
        raise UsageError(
            "no secret store is "
            + ("available on this machine" if app.secret_stores else "installed")
            + '; install one with `pip install nanofolks-keyring` (or write the value as "env:VARIABLE" in config)'
        )
    return stores


def _where(store) -> str:
    where = getattr(store, "where", None)
    return where() if callable(where) else type(store).__name__


@click.group()
def secrets() -> None:
    """Keep credentials in the secret store (OS keyring, or an owner-only file on headless machines).

    \b
    Refer to a stored secret in config.json as "keyring:NAME", or in a message as {{NAME}}.
    """


@secrets.command("set")
@click.argument("name")
@pass_app
def set_secret(app: App, name: str) -> None:
    """Store the secret NAME: typed at a hidden prompt on a terminal, or read from standard input."""
    from nanofolks_core.text import decode_bytes

    name = _name(name)
    store = _stores(app)[0]
    if sys.stdin.isatty():
        value = click.prompt(f"value for {name}", hide_input=True, confirmation_prompt=True, err=True)
    else:
        value = decode_bytes(sys.stdin.buffer.read()).strip("\r\n")
    if not value.strip():
        raise UsageError(f'no value given for {name}; pipe it in (printf %s "$VALUE" | nanofolks secrets set {name})')
    store.set(name, value)
    click.echo(f'saved {name} in {_where(store)}; use it in config as "keyring:{name}"')


@secrets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_secrets(app: App, as_json: bool) -> None:
    """List the names of stored secrets (never their values)."""
    rows = [{"name": name, "store": _where(store)} for store in _stores(app) for name in store.names()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no secrets stored; add one with `nanofolks secrets set NAME`")
    for row in rows:
        click.echo(f"{row['name']}\t{row['store']}")


@secrets.command("remove")
@click.argument("name")
@pass_app
def remove_secret(app: App, name: str) -> None:
    """Remove the secret NAME from every store that holds it."""
    name = _name(name)
    removed = [store for store in _stores(app) if store.delete(name)]
    if not removed:
        raise UsageError(f"no secret named {name!r}; `nanofolks secrets list` shows the stored names")
    click.echo(f"removed {name}")
