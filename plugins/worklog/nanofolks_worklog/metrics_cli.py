"""``nanofolks metrics``: what the crew did and cost, per day, bot, tier or provider."""

from __future__ import annotations

import json
import logging
from typing import Any

import click

from nanofolks_core.api import App, data_root, print_table
from nanofolks_worklog.metrics import GROUPINGS, UNKNOWN, PriceFn, compute
from nanofolks_worklog.query import SINCE_HELP, iso_time, parse_since
from nanofolks_worklog.store import worklog_for

log = logging.getLogger("nanofolks.worklog")
pass_app = click.make_pass_decorator(App, ensure=True)


def router_prices(app: App) -> PriceFn | None:
    """Prices from the router's analytics (``routing.tiers.<tier>.price``, else litellm's price map),
    for calls whose provider reported no cost; None without the router."""
    try:
        spec = app.registry.get("router", "tiers")
        if spec is None:
            return None
        from nanofolks_router.prices import PriceBook  # the router plugin, when installed

        book = PriceBook(app.build(spec).table)
    except ImportError:
        return None

    def price(model: str, prompt: int, completion: int) -> float | None:
        found = book.for_model(model)
        return found.cost(prompt, completion) if found is not None else None

    return price


def _money(value: float | str) -> str:
    return value if value == UNKNOWN else f"${value:.4f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


@click.command("metrics")
@click.option("--since", help=SINCE_HELP)
@click.option("--by", type=click.Choice(GROUPINGS), default="day", show_default=True, help="Group the figures by.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def metrics(app: App, since: str | None, by: str, as_json: bool) -> None:
    """Messages, model calls, tokens, cost, tool calls and failures, routine runs and turn latency.

    \b
    From the work log (nanofolks-worklog). Cost is what the provider reported, else the
    router's prices when nanofolks-router is installed, else "unknown" (never guessed).
    """
    report: dict[str, Any] = compute(
        worklog_for(data_root()), since=parse_since(since), by=by, price=router_prices(app)
    )
    if as_json:
        shown = dict(report, since=iso_time(report["since"]) if report["since"] is not None else None)
        click.echo(json.dumps(shown, indent=2))
        return
    rows = [
        (
            group["key"],
            str(group["messages"]),
            str(group["model_calls"]),
            str(group["tokens"]),
            _money(group["cost"]),
            f"{group['tool_calls']}/{group['tool_failures']}",
            str(group["routine_runs"]),
            _ms(group["latency_p50_ms"]),
            _ms(group["latency_p95_ms"]),
        )
        for group in [*report["groups"], {"key": "total", **report["total"]}]
    ]
    if not report["groups"]:
        click.echo("Nothing recorded yet" + (" in that time." if since else ": chat with the crew first."))
        return
    print_table(
        (by.upper(), "MESSAGES", "MODEL CALLS", "TOKENS", "COST", "TOOLS/FAILED", "ROUTINES", "P50 MS", "P95 MS"), rows
    )
    unpriced = report["total"]["unpriced_calls"]
    if unpriced and report["total"]["cost"] != UNKNOWN:
        click.echo(f"({unpriced} model calls had no price and are not in the cost)")
