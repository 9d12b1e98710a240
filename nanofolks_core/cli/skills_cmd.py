"""``nanofolks skills``: list skills with their risk and status, scan a folder, approve and revoke."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import click

from nanofolks_core.app import App
from nanofolks_core.cli.table import print_table
from nanofolks_core.text import for_terminal, json_for_terminal

pass_app = click.make_pass_decorator(App, ensure=True)


@click.group()
def skills() -> None:
    """List, scan, approve and revoke skills.

    A skill is a folder with a SKILL.md, from an installed skill package (`pip install
    nanofolks-skill-weather`) or your workspace (`workspace/skills/NAME/SKILL.md`). A scanner
    (`pip install nanofolks-skill-scanner`) rates each one Low, Medium, High or Critical: Low loads
    by itself, Medium and High wait for `nanofolks skills approve NAME`, Critical needs `--force`.
    """


def _catalog(app: App):
    from nanofolks_core.skills import SkillCatalog

    return SkillCatalog.from_app(app)


@skills.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--rescan", is_flag=True, help="Scan every skill again instead of using the cached ratings.")
@pass_app
def list_skills(app: App, as_json: bool, rescan: bool) -> None:
    """List skills: name, source, risk and status (loaded, approved, needs approval, blocked ...).

    Unchanged skills are not scanned again: their rating is cached by content hash.
    """
    catalog = _catalog(app)
    entries = catalog.entries(rescan=rescan)
    if as_json:
        click.echo(json_for_terminal(json.dumps([e.as_json() for e in entries], indent=2, ensure_ascii=False)))
    elif not entries:
        click.echo(
            "No skills found. Install a skill package (`pip install nanofolks-skill-weather`) or add "
            f"a folder with a SKILL.md under {_workspace(app) / 'skills'}."
        )
    else:
        print_table(
            ("NAME", "SOURCE", "RISK", "STATUS", "NOTE"),
            [
                (e.name, e.skill.source, e.risk.label if e.risk else "-", e.status, e.note or e.skill.description)
                for e in entries
            ],
        )
    for warning in catalog.warnings:
        click.echo(f"note: {warning}", err=True)


def _workspace(app: App) -> Path:
    configured = app.config.agents.defaults.workspace
    return Path(configured).expanduser() if configured else app.data_root / "workspace"


@skills.command("scan")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings and the risk as JSON.")
@pass_app
def scan(app: App, path: Path, as_json: bool) -> None:
    """Scan the skill folder PATH now: each finding's file, line, rule and reason, then the risk.

    Nothing is stored: use it on a skill before you add it.
    """
    from nanofolks_core.skills import scan_path

    skill, findings, risk = scan_path(_catalog(app), path)
    if as_json:
        document = {
            "path": str(skill.path),
            "name": skill.name,
            "risk": risk.label,
            "error": skill.error,
            "findings": [attrs.asdict(f) for f in findings],
        }
        click.echo(json_for_terminal(json.dumps(document, indent=2, ensure_ascii=False)))
        return
    if skill.error:
        click.echo(f"warning: {for_terminal(skill.error)}", err=True)
    for f in findings:
        where = f"{f.file}:{f.line}"
        click.echo(for_terminal(f"{where}  {f.rule or '-'}  {f.severity}/{f.confidence}  {f.message}"))
    count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
    click.echo(for_terminal(f"{skill.name}: risk {risk.label} ({count})"))


@skills.command("approve")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also approve a skill rated Critical (read its code first).")
@pass_app
def approve(app: App, name: str, force: bool) -> None:
    """Let skill NAME load, for its current content only (a change needs approval again)."""
    from nanofolks_core.skills import Risk

    entry = _catalog(app).approve(name, force=force)
    if entry.risk is Risk.LOW:
        click.echo(f"{name} is rated Low: it loads without approval (the approval is kept for this content).")
        return
    rating = entry.risk.label if entry.risk else "not scanned"
    click.echo(f"Approved {name} ({rating}, content {entry.content_hash[:12]}): the crew can use it now.")


@skills.command("revoke")
@click.argument("name")
@pass_app
def revoke(app: App, name: str) -> None:
    """Withdraw the approval of skill NAME."""
    from nanofolks_core.errors import UsageError
    from nanofolks_core.skills import Status

    catalog = _catalog(app)
    if not catalog.revoke(name):
        raise UsageError(f"skill {name!r} has no approval to revoke; see `nanofolks skills list`")
    entry = catalog.entry(catalog.find(name)) if any(s.name == name for s in catalog.skills) else None
    if entry is not None and entry.status is Status.LOADED:
        click.echo(f"Revoked the approval of {name}; it is rated Low, so it still loads.")
    else:
        click.echo(f"Revoked the approval of {name}; it no longer loads.")
