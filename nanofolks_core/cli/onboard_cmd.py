"""``nanofolks onboard`` (first-time setup) and ``nanofolks configure`` (change it later).

Both ask on a terminal and take flags for everything, so they also run unattended. Without a
terminal they never prompt: a missing value is an error naming the flag to pass.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Any

import click

from nanofolks_core import config as config_mod
from nanofolks_core.app import App
from nanofolks_core.errors import UsageError
from nanofolks_core.text import for_terminal

pass_app = click.make_pass_decorator(App, ensure=True)

WORKSPACE_FOLDERS = ("identity", "role", "soul", "bots", "memory", "skills")
EXAMPLE = "nanofolks onboard --provider vllm --model my-model --api-base http://127.0.0.1:8000/v1 --team pirate"


def _interactive() -> bool:
    return sys.stdin.isatty() and os.environ.get("CI", "").lower() not in ("1", "true")


def _options(function):
    for decorator in reversed(
        [
            click.option("--provider", help="Provider name (see `nanofolks plugins info provider-litellm`)."),
            click.option("--model", help="Default model, e.g. my-model or openrouter/anthropic/claude-sonnet-4."),
            click.option("--api-key", help="API key to store in config.json (mode 600). Prefer --api-key-env."),
            click.option("--api-key-env", metavar="VAR", help="Read the API key from this environment variable."),
            click.option(
                "--api-base", help="Endpoint of a local/OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1."
            ),
            click.option("--team", help="Team persona (see `nanofolks team list`)."),
            click.option("--workspace", type=click.Path(file_okay=False), help="Workspace folder."),
            click.option("-y", "--yes", is_flag=True, help="Never prompt; use flags and current values."),
        ]
    ):
        function = decorator(function)
    return function


def _ask_choice(label: str, choices: list[str], default: str | None) -> str:
    return click.prompt(label, type=click.Choice(choices), default=default, show_choices=True)


def _setup(app: App, opts: dict[str, Any], *, first_time: bool) -> None:
    ask = _interactive() and not opts["yes"]
    registry = app.registry
    raw = copy.deepcopy(app.raw)
    app.loaded  # noqa: B018 - refuse to build on an invalid file
    defaults = raw.setdefault("agents", {}).setdefault("defaults", {})
    providers = registry.names("provider")
    current_model = defaults.get("model")

    click.echo("1. Security")
    stores = registry.names("secret-store")
    click.echo(
        f"   secret storage: {', '.join(stores) if stores else 'environment variables and config.json (mode 600)'}"
    )

    click.echo("2. Provider and model")
    provider = opts["provider"] or (current_model.split("/", 1)[0] if current_model and "/" in current_model else None)
    model = opts["model"]
    if not providers:
        raise UsageError("no provider plugin is installed: `pip install nanofolks-provider-litellm`")
    if ask and (not opts["provider"] or first_time and not model):
        provider = _ask_choice("   provider", providers, provider if provider in providers else providers[0])
    if provider is None or (model is None and current_model is None and not ask):
        raise UsageError(f"no terminal to ask on: pass --provider and --model, e.g. `{EXAMPLE}`")
    if provider not in providers:
        raise UsageError(f"unknown provider {provider!r}; installed: {', '.join(providers)}")
    if model is None:
        model = click.prompt("   model", default=current_model) if ask else current_model
    if not model or not model.strip() or model.strip() == provider + "/":
        raise UsageError("the model name is empty; pass --model, e.g. --model my-model")
    model = model.strip()
    model = model if model.startswith(provider + "/") else f"{provider}/{model}"
    defaults["model"] = model
    section = raw.setdefault("providers", {}).setdefault(provider, {})
    if opts["api_base"]:
        section["apiBase"] = opts["api_base"]
    spec = registry.get("provider", provider)
    if opts["api_key_env"]:
        section["apiKey"] = f"env:{opts['api_key_env']}"
    elif opts["api_key"]:
        section["apiKey"] = opts["api_key"]
        click.echo("   key stored in config.json (mode 600); `--api-key-env VAR` keeps it out of the file")
    elif provider == "vllm" and not section.get("apiBase"):
        if not ask:
            raise UsageError(f"provider vllm needs --api-base (your server's URL), e.g. `{EXAMPLE}`")
        section["apiBase"] = click.prompt("   server URL", default="http://127.0.0.1:8000/v1")
    elif (
        provider != "vllm"
        and spec.env_keys
        and not section.get("apiKey")
        and not any(os.environ.get(k) for k in spec.env_keys)
    ):
        if ask:
            key = click.prompt(
                f"   API key (Enter to use ${spec.env_keys[0]} later)", default="", hide_input=True, show_default=False
            )
            if key:
                section["apiKey"] = key
        else:
            click.echo(f"   no key yet: export {spec.env_keys[0]} or pass --api-key-env")
    if not section:
        raw["providers"].pop(provider)
    click.echo(f"   model: {for_terminal(model)}")

    click.echo("3. Network security")
    click.echo("   chat apps connect out to their platforms; nothing listens on a public port unless you set it up")

    click.echo("4. Team")
    teams = registry.names("team")
    team = opts["team"] or raw.get("team")
    if ask and not opts["team"]:
        team = _ask_choice("   team", teams, team if team in teams else "default")
    team = team or "default"
    if team not in teams:
        raise UsageError(f"unknown team {team!r}; installed: {', '.join(teams)}")
    raw["team"] = team
    click.echo(f"   team: {for_terminal(registry.get('team', team).title or team)}")

    if opts["workspace"]:
        defaults["workspace"] = str(opts["workspace"])
    # Validate the result before writing anything: the file on disk stays valid.
    try:
        config_mod.build_config(raw, app.config_path, registry.config_sections(), app.host.not_loaded())
    except config_mod.ConfigError as exc:
        problems = "; ".join(str(issue) for issue in exc.issues)
        raise UsageError(
            f"these settings are not valid: {problems}. Check the flags you passed "
            "(--model, --api-base, --workspace ...); nothing was written."
        ) from None

    click.echo("5. Launch")
    workspace = (
        config_mod.Path(defaults["workspace"]).expanduser()
        if defaults.get("workspace")
        else (app.data_root / "workspace")
    )
    try:
        from nanofolks_core.atomic import private_dir

        private_dir(app.data_root)  # owner-only before anything lands in it (history, keys)
        for folder in WORKSPACE_FOLDERS:
            (workspace / folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the workspace {workspace}: {exc.strerror}; pass another --workspace") from None

    def apply(current: dict[str, Any]) -> None:
        # Write only what setup decides, on top of the file as it is now (another command may
        # have changed it while we were asking).
        current_defaults = current.setdefault("agents", {}).setdefault("defaults", {})
        for key in ("model", "workspace"):
            if key in defaults:
                current_defaults[key] = defaults[key]
        if provider in raw.get("providers", {}):
            current.setdefault("providers", {})[provider] = raw["providers"][provider]
        current["team"] = raw["team"]

    config_mod.update_raw(app.config_path, apply)
    app.rooms.get("general")
    click.echo(f"   config:    {app.config_path}")
    click.echo(f"   workspace: {workspace}")
    click.echo('\nYour crew is ready. Try: nanofolks chat -m "Hello!"')


@click.command()
@_options
@pass_app
def onboard(app: App, **opts: Any) -> None:
    """First-time setup: security check, provider and model, team, workspace.

    On a terminal it asks; otherwise pass flags, e.g.:
    nanofolks onboard --provider vllm --model my-model --api-base http://127.0.0.1:8000/v1 --team pirate
    """
    _setup(app, opts, first_time=True)


@click.command()
@_options
@pass_app
def configure(app: App, **opts: Any) -> None:
    """Change provider, model, key or team. Flags change only what they name."""
    _setup(app, opts, first_time=False)
