"""``nanofolks routing``: status, test a message, analytics, reset sticky tiers."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import closing
from typing import Any

import click

from nanofolks_core.api import App, ChatMessage, LLMRequest, UsageError, print_table
from nanofolks_router.analytics import UNKNOWN, build_report
from nanofolks_router.prices import PriceBook
from nanofolks_router.router import TierRouterImpl

pass_app = click.make_pass_decorator(App, ensure=True)

STICKY_RULE = (
    "a room keeps its tier; a message breaks it only when layer 1 is confident (>= threshold) and it is "
    "a higher-rank tier, or it is code and the room is not coding"
)


def _router(app: App) -> TierRouterImpl:
    return app.build(app.registry.get("router", "tiers"))


def _money(value: float | str) -> str:
    return value if isinstance(value, str) else f"${value:,.4f}"


@click.group()
def routing() -> None:
    """Tier-aware routing: which model answers which kind of message.

    \b
    Config (config.json):
      routing.tiers.<tier>.model   the model of a tier (simple, medium, complex, coding, reasoning)
      routing.tiers.<tier>.price   {"input": USD, "output": USD} per million tokens (optional)
      routing.sticky / stickyMinutes / layer2 / confidenceThreshold / enabled
    """


@routing.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show whether routing is on, each tier's model and price, and the sticky rule."""
    router = _router(app)
    config, table = router.config, router.table
    default_model = app.config.agents.defaults.model
    prices = PriceBook(table)
    tiers = []
    for name in table.by_rank():
        resolved = table.resolve(name, default_model)
        price = prices.for_tier(name, resolved.model)
        tiers.append(
            {
                "tier": name,
                "rank": table.rank(name),
                "model": resolved.model,
                "configured": resolved.source == name,
                "model_note": resolved.note(),
                "price": {"input": price.input, "output": price.output, "source": price.source} if price else UNKNOWN,
            }
        )
    with closing(router):
        rooms = [
            {"room": state.room, "tier": state.tier, "layer": state.layer, "updated_at": state.updated_at}
            for state in (router.store.room_tiers() if router.store.path.exists() else [])
        ]
    data = {
        "enabled": config.enabled,
        "active": router.active,
        "default_model": default_model,
        "tiers": tiers,
        "sticky": config.sticky,
        "sticky_minutes": config.sticky_minutes,
        "sticky_rule": STICKY_RULE,
        "layer2": config.layer2,
        "confidence_threshold": config.confidence_threshold,
        "rooms": rooms,
        "database": str(router.store.path),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    if router.active:
        state = "on"
    elif not config.enabled:
        state = "off (routing.enabled is false): every bot uses the default model"
    else:
        state = "on, but no routing.tiers.<tier>.model is set: every bot uses the default model"
    click.echo(f"Routing: {state}")
    click.echo(f"Default model: {default_model or '(not set)'}")
    click.echo("Tiers:")
    for row in tiers:
        model = row["model"] or "(none)"
        borrowed = "" if row["configured"] or row["model"] is None else f"  [{row['model_note'].split('; ')[-1]}]"
        price = row["price"]
        price_text = (
            f"${price['input']:g}/${price['output']:g} per M tokens ({price['source']})"
            if isinstance(price, dict)
            else "price unknown"
        )
        click.echo(f"  {row['tier']:<10} rank {row['rank']}  {model:<36} {price_text}{borrowed}")
    sticky = f"on, for {config.sticky_minutes} min of quiet" if config.sticky_minutes else "on, never expires"
    click.echo(f"Sticky: {sticky if config.sticky else 'off'}")
    if config.sticky:
        click.echo(f"  rule: {STICKY_RULE}")
    layer2 = f"on when layer 1 confidence < {config.confidence_threshold:g}" if config.layer2 else "off"
    click.echo(f"Layer 2 (LLM): {layer2}")
    now = time.time()
    for room in rooms:
        click.echo(f"  room {room['room']}: {room['tier']} ({(now - room['updated_at']) / 60:.0f} min ago)")
    click.echo(f"State: {router.store.path}")


@routing.command("test")
@click.argument("message")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: tier, confidence, layer, model, reason.")
@click.option("--layer2", is_flag=True, help="Ask the cheapest tier's model when layer 1 is unsure (costs a call).")
@pass_app
def test_message(app: App, message: str, as_json: bool, layer2: bool) -> None:
    """Show which tier and model MESSAGE would get (no room state; no LLM call without --layer2)."""
    if not message.strip():
        raise UsageError('give a message to classify, e.g. nanofolks routing test "What\'s the weather?"')
    router = _router(app)
    default_model = app.config.agents.defaults.model
    preview = asyncio.run(_preview(app, router, message, default_model, layer2))
    if as_json:
        click.echo(json.dumps(preview.as_dict(), indent=2))
        return
    click.echo(f"tier:       {preview.tier}")
    click.echo(f"confidence: {preview.confidence:.2f}")
    click.echo(f"layer:      {preview.layer} ({'local rules' if preview.layer == 1 else 'LLM-assisted'})")
    click.echo(f"model:      {preview.model or '(none configured)'}")
    click.echo(f"reason:     {preview.reason}")


async def _preview(app: App, router: TierRouterImpl, message: str, default_model: str | None, layer2: bool) -> Any:
    if not layer2:
        return await router.preview(message, default_model=default_model)
    cheapest = router.table.cheapest()
    model = router.table.resolve(cheapest, default_model).model if cheapest else default_model
    if not model:
        raise UsageError(
            f"--layer2 needs a model: set routing.tiers.simple.model or agents.defaults.model in {app.config_path}"
        )
    client = app.llm

    async def ask(prompt: str, model: str | None = model, tier: str | None = cheapest) -> str:
        request = LLMRequest(
            model=model,
            messages=(ChatMessage(role="user", content=prompt),),
            temperature=0.0,
            max_tokens=8,
            metadata={"tier": tier, "purpose": "routing"},
        )
        return (await client.complete(request)).content

    try:
        return await router.preview(message, default_model=default_model, ask=ask)
    finally:
        await client.aclose()


@routing.command("analytics")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def analytics(app: App, as_json: bool) -> None:
    """Calls, tokens and cost per tier from real usage, and the saving against the top tier."""
    router = _router(app)
    with closing(router):
        calls = router.store.calls()
    report = build_report(calls, router.table, PriceBook(router.table), app.config.agents.defaults.model)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    if not report.total.calls:
        click.echo("No routed LLM calls recorded yet. Chat with routing on, then run this again.")
        return
    usage = [*report.tiers.items(), ("total", report.total)]
    print_table(
        ("TIER", "CALLS", "PROMPT TOKENS", "COMPLETION TOKENS", "COST"),
        [(name, u.calls, u.prompt_tokens, u.completion_tokens, _money(u.cost)) for name, u in usage],
    )
    sources = ", ".join(f"{source}: {count}" for source, count in sorted(report.cost_sources.items()))
    click.echo(f"\nCost sources (calls): {sources}")
    price = report.top_price
    top = f"{report.top_tier} ({report.top_model})" if report.top_tier else "none"
    price_text = f"${price.input:g}/${price.output:g} per M tokens ({price.source})" if price else UNKNOWN
    click.echo(f"Top tier: {top}, price {price_text}")
    click.echo(f"Always top tier would cost: {_money(report.top_cost)}")
    percent = report.savings_percent
    saved = _money(report.savings) + (f" ({percent:g}%)" if not isinstance(percent, str) else "")
    click.echo(f"Saved by routing: {saved}")
    click.echo(f"Note: {report.note}")


@routing.command("reset")
@click.option("--room", help="Only this room (default: every room).")
@pass_app
def reset(app: App, room: str | None) -> None:
    """Forget sticky tiers, so the next message in a room is routed on its own."""
    router = _router(app)
    with closing(router):
        dropped = router.store.forget_rooms(room) if router.store.path.exists() else 0
    where = f"room {room!r}" if room else "all rooms"
    click.echo(f"Forgot {dropped} sticky tier(s) ({where}).")
