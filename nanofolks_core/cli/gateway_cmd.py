"""``nanofolks gateway``: run the always-on crew in the foreground; ``gateway status``: is one running?"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from nanofolks_core.app import App
from nanofolks_core.text import for_terminal

pass_app = click.make_pass_decorator(App, ensure=True)

#: Seconds ``gateway status`` waits for the running gateway's /health.
STATUS_TIMEOUT = 3.0


def _setup_logging(verbose: bool) -> None:
    from nanofolks_core.masking import install_log_masking

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_masking()  # a channel's error may quote a URL with its token in it
    for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "openai", "asyncio", "telegram", "discord", "slack_bolt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.group(invoke_without_command=True)
@click.option("--port", type=click.IntRange(0, 65535), help="Port of GET /health (default: gateway.port, 18790).")
@click.option("--host", help="Address GET /health listens on (default: gateway.host, 127.0.0.1; 0.0.0.0 in Docker).")
@click.option("-v", "--verbose", is_flag=True, help="Log every pipeline step to stderr.")
@pass_app
@click.pass_context
def gateway(ctx: click.Context, app: App, port: int | None, host: str | None, verbose: bool) -> None:
    """Run the crew for your chat apps in the foreground (Ctrl-C or SIGTERM stops it).

    Starts every channel whose config section has "enabled": true, restarts a channel that
    drops with backoff, and serves GET /health on gateway.host:gateway.port. While it runs,
    `nanofolks chat` talks to it instead of starting the crew itself. See docs/gateway.md.
    """
    if ctx.invoked_subcommand is not None:
        return
    from nanofolks_core.gateway.server import run

    _setup_logging(verbose)
    settings = app.config.gateway  # a broken config is reported before anything starts
    if host is not None:
        settings.host = host.strip()
    ctx.exit(run(app, port=port))


def _fetch_health(state: dict[str, Any]) -> dict[str, Any] | None:
    import http.client
    import ipaddress

    host = state.get("host") or "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_unspecified:  # listening on every address: ask the local one
            host = "127.0.0.1"
    except ValueError:
        pass  # a host name
    connection = http.client.HTTPConnection(host, int(state.get("port") or 0), timeout=STATUS_TIMEOUT)
    try:
        connection.request("GET", "/health")
        answer = connection.getresponse()
        return json.loads(answer.read().decode("utf-8")) if answer.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


@gateway.command()
@click.option("--json", "as_json", is_flag=True, help="Print the state and /health as JSON.")
@pass_app
@click.pass_context
def status(ctx: click.Context, app: App, as_json: bool) -> None:
    """Whether a gateway runs for this data folder (exit 0) or not (exit 1), with its channels."""
    from nanofolks_core.gateway.state import running_gateway

    state = running_gateway(app.data_root)
    if state is None:
        if as_json:
            click.echo(json.dumps({"running": False, "home": str(app.data_root)}))
        else:
            click.echo(f"no gateway is running for {for_terminal(str(app.data_root))}")
        ctx.exit(1)
    health = _fetch_health(state)
    if as_json:
        click.echo(json.dumps({"running": True, "home": str(app.data_root), **state, "health": health}, indent=2))
        return
    click.echo(f"gateway running for {for_terminal(str(app.data_root))}")
    click.echo(f"  pid      {state.get('pid')}")
    click.echo(f"  health   http://{state.get('host', '127.0.0.1')}:{state.get('port')}/health")
    if state.get("socket"):
        click.echo(f"  socket   {for_terminal(str(state['socket']))}")
    click.echo(f"  version  {for_terminal(str(state.get('version')))}")
    if health is None:
        click.echo("  (its /health did not answer; it may be starting or stopping)")
        return
    click.echo(f"  uptime   {_duration(health.get('uptime', 0))}")
    channels = health.get("channels") or {}
    if not channels:
        click.echo("  channels none enabled")
    for name, info in sorted(channels.items()):
        line = f"  {for_terminal(name):<10} {info.get('state')}, {info.get('restarts', 0)} restart(s)"
        if info.get("lastError"):
            line += f"; last error: {for_terminal(str(info['lastError']))}"
        click.echo(line)


def _duration(seconds: float) -> str:
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
