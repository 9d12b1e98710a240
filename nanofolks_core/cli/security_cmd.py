"""``nanofolks security``: what the model would be sent (``scan``), which tools used which secrets (``audit``)."""

from __future__ import annotations

import json
import sys

import click

from nanofolks_core.app import App

pass_app = click.make_pass_decorator(App, ensure=True)


@click.group()
def security() -> None:
    """Credential detection and the audit log of secret use.

    \b
    Credentials in messages are kept in the secret store and replaced by {{name}}; tools get
    the values only when they run, and each use is written to the audit log.
    """


@security.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings (kind, span, reference) as JSON.")
@pass_app
def scan(app: App, as_json: bool) -> None:
    """Read text on standard input and print it as the model would see it (stores nothing)."""
    from nanofolks_core.security.references import ReferenceGuard
    from nanofolks_core.text import clean_text, decode_bytes, for_terminal

    text = clean_text(decode_bytes(sys.stdin.buffer.read()))
    shown, findings = ReferenceGuard.from_app(app).scan(text, dry_run=True)
    if as_json:
        rows = [
            {"kind": f.kind, "span": [f.start, f.end], "reference": "{{" + f.reference + "}}" if f.reference else None}
            for f in findings
        ]
        click.echo(json.dumps({"text": shown, "findings": rows}, indent=2, ensure_ascii=False))
        return
    click.echo(for_terminal(shown), nl=not shown.endswith("\n"))
    if findings:
        click.echo(f"{len(findings)} credential(s) found", err=True)


@security.command()
@click.option(
    "--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True, help="Newest entries to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def audit(app: App, limit: int, as_json: bool) -> None:
    """Show which tool used which {{reference}}, when, in which room and for which bot (never values)."""
    from nanofolks_core.security.audit import AuditLog
    from nanofolks_core.text import for_terminal

    log = AuditLog(app.data_root)
    entries = log.entries(limit=limit)
    if as_json:
        click.echo(json.dumps(entries, indent=2, ensure_ascii=False))
        return
    if not entries:
        click.echo(f"no secret has been used by a tool yet ({log.path})")
        return
    for entry in entries:
        refs = ", ".join("{{" + str(name) + "}}" for name in entry.get("references", []))
        where = f"room={entry.get('room', '?')} bot={entry.get('bot', '?')}"
        line = f"{entry.get('time', '?')}  {entry.get('tool', '?')}  {refs}  {where}"
        click.echo(for_terminal(line))
