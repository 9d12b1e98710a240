"""``nanofolks channels``: the chat-app channels installed, their live state, and login."""

from __future__ import annotations

import asyncio
import json

import click

from nanofolks_core.app import App
from nanofolks_core.cli.table import print_table
from nanofolks_core.errors import NanofolksError, UsageError
from nanofolks_core.text import for_terminal

pass_app = click.make_pass_decorator(App, ensure=True)


@click.group()
def channels() -> None:
    """Chat-app channels (Telegram, Slack, Discord, WhatsApp ...): installed, running, login.

    A channel runs inside `nanofolks gateway` when its section in config.json
    (channels.<name>) has "enabled": true; only senders in its allowFrom get answers.
    """


def _configured(app: App, name: str) -> bool:
    section = app.raw.get("channels")
    return isinstance(section, dict) and isinstance(section.get(name), dict)


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def list_channels(app: App, as_json: bool) -> None:
    """Installed channels, whether config.json has a section for each and whether it is enabled."""
    rows = []
    for spec in sorted(app.registry.all("channel"), key=lambda s: s.name):
        path = spec.config_section()
        section = app.config.section(path) if path else None
        rows.append(
            {
                "name": spec.name,
                "plugin": app.registry.owner(spec.kind, spec.name) or "core",
                "configured": _configured(app, spec.name),
                "enabled": bool(getattr(section, "enabled", False)),
                "allowFrom": list(getattr(section, "allow_from", None) or []),
                "summary": spec.summary,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no channel plugins are installed (for example: pip install nanofolks-telegram)")
        return

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    print_table(
        ("NAME", "PLUGIN", "CONFIGURED", "ENABLED", "ALLOWED", "SUMMARY"),
        [
            (r["name"], r["plugin"], yes(r["configured"]), yes(r["enabled"]), _allowed(r["allowFrom"]), r["summary"])
            for r in rows
        ],
    )


def _allowed(allow_from: list[str]) -> str:
    if "*" in allow_from:
        return "anyone"
    return f"{len(allow_from)} sender(s)" if allow_from else "nobody"


@channels.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the channels' states as JSON.")
@pass_app
@click.pass_context
def status(ctx: click.Context, app: App, as_json: bool) -> None:
    """Live state of each channel in the running gateway (exit 1 when no gateway runs)."""
    from nanofolks_core.cli.gateway_cmd import _fetch_health
    from nanofolks_core.gateway.state import running_gateway

    state = running_gateway(app.data_root)
    if state is None:
        click.echo(
            f"no gateway is running for {for_terminal(str(app.data_root))}; start one with `nanofolks gateway`",
            err=as_json,
        )
        ctx.exit(1)
    health = _fetch_health(state)
    if health is None:
        raise NanofolksError(f"the gateway (pid {state.get('pid')}) did not answer on port {state.get('port')}")
    states = health.get("channels") or {}
    if as_json:
        click.echo(json.dumps(states, indent=2, ensure_ascii=False))
        return
    if not states:
        click.echo('no channel is enabled (set "enabled": true in channels.<name> of config.json)')
        return
    print_table(
        ("NAME", "STATE", "RESTARTS", "LAST ERROR"),
        [(name, s.get("state"), s.get("restarts", 0), s.get("lastError") or "") for name, s in sorted(states.items())],
    )


def _with_login(app: App) -> list[str]:
    """Installed channels whose runtime class has a ``login`` (imports their runtime modules)."""
    names = []
    for spec in app.registry.all("channel"):
        try:
            factory = spec.load()
        except Exception:  # noqa: BLE001, S112 - a channel that cannot even load has no login to offer
            continue
        if callable(getattr(factory, "login", None)):
            names.append(spec.name)
    return sorted(names)


@channels.command("login")
@click.argument("name", required=False)
@pass_app
def login(app: App, name: str | None) -> None:
    """Log channel NAME in interactively (WhatsApp: scan the QR code it prints).

    Without NAME: the one installed channel that has an interactive login.
    """
    from nanofolks_core.gateway.channel_build import build_channel

    if name is None:
        candidates = _with_login(app)
        if len(candidates) != 1:
            which = f"several do: {', '.join(candidates)}" if candidates else "none of the installed channels has one"
            raise UsageError(f"name the channel to log in, e.g. `nanofolks channels login whatsapp` ({which})")
        name = candidates[0]
    spec = app.registry.get("channel", name)
    if spec is None:
        known = ", ".join(app.registry.names("channel")) or "none installed"
        raise UsageError(f"no channel named {name!r} (known: {known})")
    path = spec.config_section()
    channel = build_channel(app, spec, app.config.section(path) if path else None)  # errors are one line
    do_login = getattr(channel, "login", None)
    if not callable(do_login):
        click.echo(f"{for_terminal(name)} needs no interactive login: it signs in with the token in channels.{name}")
        return
    asyncio.run(do_login())
