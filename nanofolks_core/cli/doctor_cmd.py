"""``nanofolks doctor``: check config, rooms, history, memory and router; ``--repair`` fixes what it can."""

from __future__ import annotations

import json

import click

from nanofolks_core.app import App

pass_app = click.make_pass_decorator(App, ensure=True)


@click.command()
@click.option("--repair", is_flag=True, help="Move damaged files aside (never delete them) and rebuild from the rest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def doctor(app: App, repair: bool, as_json: bool) -> None:
    """Check every store under the data folder and say how to fix what is wrong.

    \b
    Checks the config file, file permissions, every room file and room history, the
    memory store and the router. Exit status 0 when everything is fine (or was repaired),
    1 when problems remain. Damaged files are moved aside with a `.damaged-<time>` suffix,
    never deleted.
    """
    from nanofolks_core.health import run_checks
    from nanofolks_core.text import for_terminal

    checks = run_checks(app, repair=repair)
    memory = app.__dict__.get("memory")  # close only what the checks opened
    if memory is not None:
        memory.close()
    failed = [c for c in checks if not c.ok]
    if as_json:
        click.echo(
            json.dumps(
                [{"name": c.name, "ok": c.ok, "detail": c.detail, "repaired": c.repaired} for c in checks], indent=2
            )
        )
    else:
        for check in checks:
            label = "FAIL " if not check.ok else ("fixed" if check.repaired else "ok   ")
            detail = for_terminal(check.detail).replace("\n", "\n" + " " * 9)  # keep long details under their check
            click.echo(f"{label}  {for_terminal(check.name)}: {detail}")
        if failed:
            hint = "" if repair else "; `nanofolks doctor --repair` fixes what can be fixed"
            click.echo(f"{len(failed)} problem(s) found{hint}.")
        else:
            click.echo(f"All {len(checks)} checks passed.")
    if failed:
        raise click.exceptions.Exit(1)
