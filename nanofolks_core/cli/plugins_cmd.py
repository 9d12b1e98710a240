"""``nanofolks plugins``: list, inspect, enable, disable and check plugins."""

from __future__ import annotations

import difflib
import json
import sys
from typing import Any

import click

from nanofolks_core import config as config_mod
from nanofolks_core import plugin_state
from nanofolks_core.app import App
from nanofolks_core.cli.table import print_table
from nanofolks_core.errors import UsageError
from nanofolks_core.plugins import ENABLED, ESSENTIAL, PluginRecord, installed_entry_points
from nanofolks_core.registry import KIND_HOOKS

pass_app = click.make_pass_decorator(App, ensure=True)


def _declared_kinds(app: App, record: PluginRecord) -> list[str]:
    """Kinds of a plugin that was not loaded, from its distribution's keywords (no import)."""
    entry = app.host.entry_points.get(record.name)
    words = set(entry.keywords()) if entry else set()
    return sorted(words & (set(KIND_HOOKS) | {"events"}))


def _records(app: App, include_builtin: bool, kind: str | None) -> list[PluginRecord]:
    app.loaded  # noqa: B018 - validates the config; errors surface before anything is listed
    rows = []
    for record in app.host.report():
        if record.builtin and not include_builtin:
            continue
        if not record.loaded and not record.kinds:
            record.kinds = _declared_kinds(app, record)
        if kind and kind not in record.kinds:
            continue
        rows.append(record)
    return rows


class _PluginsGroup(click.Group):
    """``plugins new`` (the scaffold, an attrs class and its templates) is imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, "new"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "new" and "new" not in self.commands:
            from nanofolks_core.cli.plugins_new import new_plugin

            self.add_command(new_plugin)
        return self.commands.get(cmd_name)


@click.group(cls=_PluginsGroup)
def plugins() -> None:
    """List, inspect, enable and disable plugins.

    \b
    Which plugins load (first match wins; essential core parts always load):
      NANOFOLKS_DISABLE_PLUGINS=a,b   those are disabled (env)
      NANOFOLKS_LOAD_PLUGINS=a,b      only those load; others are disabled (env)
      plugins.disabled in config      disabled (config), set by `plugins disable`
    """


@plugins.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins of the core.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--kind", type=click.Choice(sorted([*KIND_HOOKS, "events"])), help="Only plugins of this kind.")
@pass_app
def list_plugins(app: App, show_all: bool, as_json: bool, kind: str | None) -> None:
    """List installed plugins with version, kinds, state and distribution."""
    rows = _records(app, show_all, kind)
    if as_json:
        click.echo(json.dumps([_public(record) for record in rows], indent=2))
        return
    if not rows:
        click.echo("No plugins installed." if not kind else f"No {kind} plugins installed.")
        click.echo("Install one with pip, e.g. `pip install nanofolks-team-pirate`.")
        return
    print_table(
        ("NAME", "VERSION", "KINDS", "STATE", "DISTRIBUTION"),
        [(r.name, r.version, ",".join(r.kinds) or "-", r.state, r.distribution) for r in rows],
    )
    for record in rows:
        if record.reason and record.state != ENABLED and not record.state.startswith("disabled"):
            click.echo(f"\n{record.name} {record.state}: {record.reason}", err=False)
    for conflict in app.host.registry.conflicts:
        click.echo(f"warning: {conflict}")


def _public(record: PluginRecord) -> dict[str, Any]:
    data = record.as_dict()
    data["enabled"] = record.loaded
    return data


def _find(app: App, name: str) -> PluginRecord:
    records = {record.name: record for record in app.host.report()}
    if name not in records:
        hint = difflib.get_close_matches(name, list(records), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(f"no plugin named {name!r} is installed.{suggestion} See `nanofolks plugins list --all`.")
    return records[name]


@plugins.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def info(app: App, name: str, as_json: bool) -> None:
    """Show one plugin: state, what it contributes and which hooks it implements."""
    app.loaded  # noqa: B018 - validate config first
    record = _find(app, name)
    if not record.loaded and not record.kinds:
        record.kinds = _declared_kinds(app, record)
    hooks = []
    plugin_obj = app.host.pm.get_plugin(name)
    if plugin_obj is not None:
        hooks = sorted(h.name for h in app.host.pm.get_hookcallers(plugin_obj) or [])
    data = _public(record) | {"hooks": hooks}
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{record.name} {record.version}  ({record.distribution})")
    click.echo(f"  state:    {record.state}" + (f" - {record.reason}" if record.reason else ""))
    click.echo(f"  module:   {record.module}")
    click.echo(f"  kinds:    {', '.join(record.kinds) or '-'}")
    if record.load_ms is not None:
        click.echo(f"  import:   {record.load_ms:.1f} ms")
    if record.essential:
        click.echo("  essential: yes (cannot be disabled)")
    for kind, names in record.contributions.items():
        for spec_name in names:
            spec = app.host.registry.get(kind, spec_name)
            summary = getattr(spec, "summary", "")
            click.echo(f"  {kind:<15} {spec_name}" + (f" - {summary}" if summary else ""))
    if hooks:
        click.echo(f"  hooks:    {', '.join(_with_marks(app, plugin_obj, hook) for hook in hooks)}")
    for clash in record.clashes:
        click.echo(f"  warning:  {clash}")


def _with_marks(app: App, plugin_obj: object, hook_name: str) -> str:
    """``nanofolks_before_llm_call (wrapper, tryfirst)``: how pluggy will call this implementation."""
    impl = next((i for i in getattr(app.host.pm.hook, hook_name).get_hookimpls() if i.plugin is plugin_obj), None)
    marks = [mark for mark in ("wrapper", "hookwrapper", "tryfirst", "trylast") if impl and getattr(impl, mark)]
    return f"{hook_name} ({', '.join(marks)})" if marks else hook_name


def _set_disabled(app: App, name: str, disabled: bool) -> None:
    known = {ep.name for ep in installed_entry_points()}
    current = config_mod.disabled_plugins(app.raw, app.config_path)
    if name in ESSENTIAL and disabled:
        raise UsageError(f"{name!r} is an essential part of nanofolks and cannot be disabled.")
    if name not in known and not (not disabled and name in current):
        hint = difflib.get_close_matches(name, sorted(known), n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(f"no plugin named {name!r} is installed.{suggestion} See `nanofolks plugins list --all`.")
    app.check_core_config()
    if name in ESSENTIAL:
        click.echo(f"{name} is always enabled (an essential part of nanofolks).")
        return
    if not disabled and plugin_state.clear(app.data_root, name):
        click.echo(f"{name}: its run-time switch-off was cleared; it loads again from the next command.")
        if name not in current:
            return
    if (name in current) == disabled:
        click.echo(f"{name} is already {'disabled' if disabled else 'enabled'}.")
        return

    def mutate(raw: dict[str, Any]) -> None:
        section = raw.setdefault("plugins", {})
        names = [n for n in section.get("disabled", []) if n != name]
        if disabled:
            names.append(name)
        section["disabled"] = sorted(names)

    config_mod.update_raw(app.config_path, mutate)
    click.echo(f"{name} {'disabled' if disabled else 'enabled'} (saved to {app.config_path}).")


@plugins.command("disable")
@click.argument("name")
@pass_app
def disable(app: App, name: str) -> None:
    """Disable a plugin: it is not imported again until enabled (saved in config.json)."""
    _set_disabled(app, name, True)


@plugins.command("enable")
@click.argument("name")
@pass_app
def enable(app: App, name: str) -> None:
    """Enable a plugin disabled with `plugins disable`, or switched off after its hook raised."""
    _set_disabled(app, name, False)


_DOCTOR_SCRIPT = r"""
import json, sys, time
from nanofolks_core.specs import import_object
results = []
for target in json.loads(sys.argv[1]):
    started = time.perf_counter()
    try:
        import_object(target)
        error = None
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    results.append({"target": target, "ms": round((time.perf_counter() - started) * 1000, 1), "error": error})
print(json.dumps(results))
"""


@plugins.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Import each enabled plugin's runtime in a fresh process; report errors and import time."""
    app.loaded  # noqa: B018 - validate config first
    report = []
    failed = 0
    for record in app.host.report():
        if not record.loaded:
            if record.state not in (ENABLED,) and not record.state.startswith("disabled"):
                failed += 1
                report.append({"plugin": record.name, "target": record.module, "ms": None, "error": record.reason})
            continue
        targets = []
        for kind, names in record.contributions.items():
            for spec_name in names:
                factory = getattr(app.host.registry.get(kind, spec_name), "factory", None)
                if factory:
                    targets.append(factory)
        if not targets:
            report.append({"plugin": record.name, "target": "(no runtime)", "ms": 0.0, "error": None})
            continue
        import subprocess

        proc = subprocess.run(  # noqa: S603 - runs our own interpreter on a fixed script
            [sys.executable, "-c", _DOCTOR_SCRIPT, json.dumps(sorted(set(targets)))],
            capture_output=True,
            text=True,
            timeout=300,
        )
        try:
            results = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            results = [{"target": t, "ms": None, "error": proc.stderr.strip()[-300:]} for t in targets]
        for result in results:
            failed += result["error"] is not None
            report.append({"plugin": record.name, **result})
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for row in report:
            status = "ok" if row["error"] is None else f"ERROR {row['error']}"
            ms = f"{row['ms']:.1f} ms" if row["ms"] is not None else "-"
            click.echo(f"{row['plugin']:<20} {row['target']:<55} {ms:>10}  {status}")
        click.echo(f"\n{len(report) - failed} ok, {failed} with errors")
    if failed:
        raise click.exceptions.Exit(1)
