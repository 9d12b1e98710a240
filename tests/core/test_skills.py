"""Skills in the core: SKILL.md parsing, discovery, the risk policy, approvals bound to content,
the scan cache, the read_skill tool and `nanofolks skills` without a scanner installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanofolks_core.contracts import Finding, Services, ToolContext
from nanofolks_core.errors import UsageError
from nanofolks_core.skills import (
    Risk,
    SkillCatalog,
    SkillFormatError,
    SkillStateStore,
    Status,
    discover,
    parse_skill_md,
    read_skill,
    skills_prompt_section,
)
from nanofolks_core.skills.catalog import ScannerSet
from nanofolks_core.specs import SkillSpec


def write_skill(folder: Path, name: str, description: str = "Does a thing.", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {description}\n---\n# {name}\n{extra}")
    return folder


# -- SKILL.md ------------------------------------------------------------------------------------


def test_frontmatter_in_the_forms_skill_files_use():
    text = (
        "\ufeff---\nname: pdf-tools\ndescription: >-\n  Fill and merge PDF forms.\n  Use for any PDF task.\n"
        "license: Apache-2.0\nallowed-tools: [read_file]\nrequires:\n  bins:\n    - qpdf\n    - gs  # ghostscript\n"
        '  env: ["PDF_KEY"]\nmetadata: {"openclaw": {"emoji": "x"}}\n---\n# PDF tools\nBody.\n'
    )
    manifest = parse_skill_md(text, where="SKILL.md")
    assert manifest.name == "pdf-tools"
    assert manifest.description == "Fill and merge PDF forms. Use for any PDF task."
    assert manifest.requires == {"bins": ("qpdf", "gs"), "env": ("PDF_KEY",)}
    assert manifest.extra["metadata"] == {"openclaw": {"emoji": "x"}}
    assert manifest.extra["allowed-tools"] == ["read_file"]
    assert manifest.body.startswith("# PDF tools") and manifest.body_line == 15


def test_requires_as_a_plain_list_means_programs():
    manifest = parse_skill_md("---\nname: gh\ndescription: 'GitHub: issues'\nrequires: [gh]\n---\n", where="x")
    assert (manifest.description, manifest.requires) == ("GitHub: issues", {"bins": ("gh",)})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# no frontmatter\n", "no frontmatter"),
        ("---\nname: x\n---\n", "'description' is missing"),
        ("---\nname: Bad_Name\ndescription: d\n---\n", "name 'Bad_Name' is not valid"),
        ("---\nname: x\ndescription: d\nrequires: {bins: {a: 1}}\n---\n", "requires.bins must be a list"),
        ("---\nname: x\n description d\n---\n", "frontmatter is not valid"),
    ],
)
def test_a_bad_skill_md_is_one_clear_error_naming_the_file(text, message):
    with pytest.raises(SkillFormatError, match=message) as caught:
        parse_skill_md(text, where="/skills/x/SKILL.md")
    assert str(caught.value).startswith("/skills/x/SKILL.md: ")


# -- discovery -------------------------------------------------------------------------------------


@pytest.fixture
def package_skill(tmp_path, monkeypatch):
    """An importable package shipping a skill folder, as an installed skill pack does."""
    root = tmp_path / "site"
    write_skill(root / "demo_skill_pack" / "skill", "demo", "From a package.")
    (root / "demo_skill_pack" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(root))
    return SkillSpec(name="demo", resource="demo_skill_pack:skill")


def test_workspace_skills_come_first_and_shadow_a_package_skill_of_the_same_name(tmp_path, package_skill):
    workspace = tmp_path / "ws"
    write_skill(workspace / "skills" / "demo", "demo", "My own copy.")
    write_skill(workspace / "skills" / "other", "other")
    (workspace / "skills" / "broken").mkdir()
    found = {(s.name, s.source): s for s in discover([(package_skill, "skill-demo")], workspace)}
    assert found["demo", "workspace"].description == "My own copy." and found["demo", "workspace"].shadowed_by is None
    assert found["demo", "plugin:skill-demo"].shadowed_by.startswith("workspace")
    assert "no SKILL.md" in found["broken", "workspace"].error


# -- the policy, with a scanner we control ---------------------------------------------------------


class CountingScanner:
    """Rates by marker words in SKILL.md and counts its scans (to prove the cache)."""

    MARKERS = {"LOWRISK": ("low", "high"), "NETWORK": ("medium", "high"), "SECRETS": ("high", "medium"),
               "SHELL": ("high", "high")}  # fmt: skip

    def __init__(self):
        self.scans: list[Path] = []
        self.fail = False

    def scan(self, path: Path) -> list[Finding]:
        self.scans.append(path)
        if self.fail:
            raise RuntimeError("scanner broke")
        text = (path / "SKILL.md").read_text()
        return [
            Finding(file="SKILL.md", line=1, severity=s, confidence=c, cwe=None, message=word.lower(), rule=word)
            for word, (s, c) in self.MARKERS.items()
            if word in text
        ]


@pytest.fixture
def ws(tmp_path):
    workspace = tmp_path / "workspace"
    for name, marker in [("plain", ""), ("net", "NETWORK"), ("secrets", "SECRETS"), ("shell", "SHELL")]:
        write_skill(workspace / "skills" / name, name, extra=marker)
    return workspace


def catalog_for(home: Path, workspace: Path, scanner: CountingScanner | None) -> SkillCatalog:
    scanners = ScannerSet(names=("counting",), build=lambda: [scanner]) if scanner else ScannerSet(names=(), build=list)
    return SkillCatalog(skills=discover([], workspace), store=SkillStateStore(home / "skills"), scanners=scanners)


def statuses(catalog: SkillCatalog) -> dict[str, tuple[str | None, str]]:
    return {e.name: (e.risk.label if e.risk else None, str(e.status)) for e in catalog.entries()}


def test_low_loads_medium_and_high_wait_critical_needs_force(tmp_path, ws):
    scanner = CountingScanner()
    catalog = catalog_for(tmp_path, ws, scanner)
    assert statuses(catalog) == {
        "net": ("Medium", "needs approval"),
        "plain": ("Low", "loaded"),
        "secrets": ("High", "needs approval"),
        "shell": ("Critical", "blocked"),
    }
    catalog.approve("net")
    catalog.approve("secrets")
    with pytest.raises(UsageError, match="rated Critical.*--force"):
        catalog.approve("shell")
    assert catalog_for(tmp_path, ws, scanner).entry(catalog.find("shell")).status is Status.BLOCKED
    catalog.approve("shell", force=True)
    assert [e.name for e in catalog_for(tmp_path, ws, scanner).loadable()] == ["net", "plain", "secrets", "shell"]


def test_unchanged_skills_are_never_scanned_again_and_a_change_is_rescanned_and_unapproved(tmp_path, ws):
    scanner = CountingScanner()
    catalog_for(tmp_path, ws, scanner).approve("net")
    catalog_for(tmp_path, ws, scanner).entries()
    scans = len(scanner.scans)
    assert scans == 4  # each skill once
    for _ in range(3):
        catalog_for(tmp_path, ws, scanner).entries()
    assert len(scanner.scans) == scans, "unchanged skills were scanned again"

    (ws / "skills" / "net" / "extra.txt").write_text("a new file changes the content hash")
    entry = {e.name: e for e in catalog_for(tmp_path, ws, scanner).entries()}["net"]
    assert scanner.scans[-1] == ws / "skills" / "net" and len(scanner.scans) == scans + 1
    assert entry.status is Status.NEEDS_APPROVAL and "changed since it was approved" in entry.note


def test_a_failing_scanner_leaves_skills_unrated_and_unloaded(tmp_path, ws):
    scanner = CountingScanner()
    scanner.fail = True
    entries = {e.name: e for e in catalog_for(tmp_path, ws, scanner).entries()}
    assert entries["plain"].risk is None and entries["plain"].status is Status.NEEDS_APPROVAL
    assert "scanner failed (RuntimeError: scanner broke)" in entries["plain"].note


def test_without_a_scanner_every_skill_waits_for_approval(tmp_path, ws):
    catalog = catalog_for(tmp_path, ws, None)
    assert {status for _risk, status in statuses(catalog).values()} == {"needs approval"}
    assert "no skill scanner is installed" in catalog.warnings[0]
    catalog.approve("plain")
    assert statuses(catalog)["plain"] == (None, "approved")


def test_a_damaged_approvals_file_is_moved_aside_and_nothing_stays_approved(tmp_path, ws):
    catalog = catalog_for(tmp_path, ws, CountingScanner())
    catalog.approve("net")
    (tmp_path / "skills" / "approvals.json").write_text("{not json")
    assert statuses(catalog)["net"] == ("Medium", "needs approval")
    assert [p.name for p in (tmp_path / "skills").glob("approvals.json.damaged-*")]
    catalog.approve("net")
    assert statuses(catalog)["net"] == ("Medium", "approved")


def test_a_skill_whose_programs_are_missing_is_listed_but_not_offered(tmp_path, ws):
    folder = ws / "skills" / "tooly"
    folder.mkdir()
    (folder / "SKILL.md").write_text("---\nname: tooly\ndescription: d\nrequires: [no-such-program-xyz, sh]\n---\n")
    catalog = catalog_for(tmp_path, ws, CountingScanner())
    entry = catalog.entry(catalog.find("tooly"))
    assert entry.status is Status.LOADED and entry.missing == ("no-such-program-xyz",)
    assert "needs no-such-program-xyz on PATH" in entry.note
    assert "tooly" not in [e.name for e in catalog.loadable()]


# -- progressive loading ---------------------------------------------------------------------------


def test_the_prompt_names_only_loadable_skills(tmp_path, ws):
    catalog = catalog_for(tmp_path, ws, CountingScanner())
    section = skills_prompt_section(catalog.loadable())
    assert section.startswith("## Skills\n") and "read_skill" in section
    assert "- plain: Does a thing." in section and "net" not in section and "shell" not in section
    assert skills_prompt_section([]) == ""


def test_read_skill_reads_a_loadable_skill_and_nothing_outside_it(tmp_path, ws):
    (ws / "skills" / "plain" / "notes.md").write_text("more notes")
    (ws / "skills" / "plain" / "key").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("hunter2")
    context = ToolContext(
        room="general", bot="leader", workspace=ws, services=Services(plugin="core", data_root=tmp_path)
    )
    # No scanner is registered in these services: even "plain" waits until approved.
    with pytest.raises(PermissionError, match="not available"):
        read_skill("plain", context)
    catalog_for(tmp_path, ws, None).approve("plain")
    text = read_skill("plain", context)
    assert text.startswith("---\nname: plain") and "notes.md" in text
    assert read_skill("plain", context, file="notes.md") == "more notes"
    for escape in ("../net/SKILL.md", "/etc/passwd", "key"):
        with pytest.raises(PermissionError, match="outside the skill's folder"):
            read_skill("plain", context, file=escape)
    with pytest.raises(UsageError, match="no skill named 'nope'"):
        read_skill("nope", context)


def test_read_skill_is_a_core_tool_offered_to_every_bot(plugin_host):
    from nanofolks_core.builtins import core
    from nanofolks_core.tools.runtime import build_tool

    plugin_host.register_module(core, "core")
    spec = plugin_host.build_registry().get("tool", "read_skill")
    tool = build_tool(spec, None, Services(plugin="core", data_root=Path("/nonexistent")))
    assert tool.offered_to("creative") and set(tool.schema["function"]["parameters"]["required"]) == {"name"}


def test_a_chat_turn_lists_usable_skills_and_the_bot_reads_one_with_read_skill(chat, llm_server, nanofolks_home):
    from nanofolks_core.testing.llm_server import Reply, ToolCall

    skills = nanofolks_home / "workspace" / "skills"
    write_skill(skills / "haiku", "haiku", "Write haiku in 5-7-5.", extra="Count syllables twice.\n")
    write_skill(skills / "unapproved", "unapproved", "Waits for approval.")
    catalog_for(nanofolks_home, nanofolks_home / "workspace", None).approve("haiku")
    llm_server.push(Reply(tool_calls=[ToolCall("read_skill", {"name": "haiku"})]), "An old silent pond")
    turn = chat("write a haiku")
    assert turn.text == "An old silent pond"
    first, second = llm_server.requests[:2]
    system = first["messages"][0]["content"]
    assert "## Skills\n" in system and "- haiku: Write haiku in 5-7-5." in system and "unapproved" not in system
    assert any(t["function"]["name"] == "read_skill" for t in first["tools"])
    tool_result = [m for m in second["messages"] if m["role"] == "tool"][-1]["content"]
    assert "Count syllables twice." in tool_result


# -- the CLI without a scanner (a real process, only the core loaded) ------------------------------


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "NANOFOLKS_HOME": str(home), "NANOFOLKS_LOAD_PLUGINS": "core"}
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "nanofolks_core", "skills", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_cli_list_approve_revoke_without_a_scanner(nanofolks_home):
    write_skill(nanofolks_home / "workspace" / "skills" / "hello", "hello", "Greets people.")
    listing = run_cli(nanofolks_home, "list")
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[1].split()[:5] == ["hello", "workspace", "-", "needs", "approval"]
    assert "no skill scanner is installed" in listing.stderr and "nanofolks-skill-scanner" in listing.stderr

    approved = run_cli(nanofolks_home, "approve", "hello")
    assert approved.returncode == 0 and "Approved hello (not scanned" in approved.stdout
    rows = json.loads(run_cli(nanofolks_home, "list", "--json").stdout)
    assert [(r["name"], r["risk"], r["status"]) for r in rows] == [("hello", None, "approved")]

    assert run_cli(nanofolks_home, "revoke", "hello").returncode == 0
    again = run_cli(nanofolks_home, "revoke", "hello")
    assert again.returncode == 2 and again.stderr.startswith("Error: skill 'hello' has no approval to revoke")
    missing = run_cli(nanofolks_home, "approve", "nope")
    assert missing.returncode == 2 and "no skill named 'nope' (skills found: hello)" in missing.stderr
    scan = run_cli(nanofolks_home, "scan", str(nanofolks_home / "workspace" / "skills" / "hello"))
    assert scan.returncode == 2 and "no skill scanner is installed" in scan.stderr
    assert "Traceback" not in listing.stderr + again.stderr + missing.stderr + scan.stderr


def test_risk_levels_are_ordered_and_named_as_the_user_guide_names_them():
    assert [r.label for r in sorted(Risk)] == ["Low", "Medium", "High", "Critical"]
