"""The skill catalog: every skill found, its rating and its status, and the ones the crew may use.

Built from the registry (skill packages and scanners) and the workspace, by the CLI, the crew
and the ``read_skill`` tool alike, so all three agree on what loads. Scanning happens only for
content not scanned before (the cache is keyed by content hash and scanner set).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from shutil import which
from typing import Any

import attrs

from nanofolks_core.contracts import Finding, Services
from nanofolks_core.errors import UsageError
from nanofolks_core.skills.discovery import Skill, content_hash, discover, load_skill
from nanofolks_core.skills.risk import Risk, Status, decide, rate
from nanofolks_core.skills.store import Approval, ScanResult, SkillStateStore

log = logging.getLogger("nanofolks.skills")

NO_SCANNER = (
    "no skill scanner is installed, so skills are not rated and each waits for "
    "`nanofolks skills approve NAME`; install one with `pip install nanofolks-skill-scanner`"
)


@attrs.frozen(kw_only=True)
class SkillEntry:
    """A skill with its rating (None: not scanned) and status."""

    skill: Skill
    status: Status
    risk: Risk | None = None
    findings: tuple[Finding, ...] = ()
    content_hash: str = ""
    note: str = ""
    #: Programs ``requires`` names that are not on PATH: the skill is not offered until they are.
    missing: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.skill.name

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.skill.description,
            "source": self.skill.source,
            "path": str(self.skill.path),
            "risk": self.risk.label if self.risk else None,
            "status": str(self.status),
            "findings": len(self.findings),
            "hash": self.content_hash,
            "note": self.note,
            "missing": list(self.missing),
        }


@attrs.frozen(kw_only=True)
class ScannerSet:
    """The registered scanners, built on first use (they import heavy things such as bandit)."""

    names: tuple[str, ...]
    build: Callable[[], list[Any]]

    @property
    def key(self) -> str:
        return ",".join(self.names)


class SkillCatalog:
    """Skills of one data folder and workspace, rated and approved."""

    def __init__(self, *, skills: list[Skill], store: SkillStateStore, scanners: ScannerSet) -> None:
        self.skills = skills
        self.store = store
        self.scanners = scanners
        self._built: list[Any] | None = None
        self.warnings: list[str] = [] if scanners.names else [NO_SCANNER]

    @classmethod
    def from_services(cls, services: Services, workspace: Path | None) -> SkillCatalog:
        """The catalog a runtime (the ``read_skill`` tool) sees through its services."""
        specs = services.registered("skill")
        scanner_specs = services.registered("skill-scanner")

        def build() -> list[Any]:
            return [
                spec.build(None, Services(plugin=spec.name, data_root=services.data_root)) for spec in scanner_specs
            ]

        return cls(
            skills=discover([(spec, _owner_of(spec)) for spec in specs], workspace),
            store=SkillStateStore(services.data_root / "skills"),
            scanners=ScannerSet(names=tuple(spec.name for spec in scanner_specs), build=build),
        )

    @classmethod
    def from_app(cls, app: Any, workspace: Path | None = None) -> SkillCatalog:
        """The catalog for ``app``'s plugins, data folder and workspace (``agents.defaults.workspace``)."""
        registry = app.registry
        if workspace is None:
            configured = app.config.agents.defaults.workspace
            workspace = Path(configured).expanduser() if configured else app.data_root / "workspace"
        scanner_specs = registry.all("skill-scanner")

        def build() -> list[Any]:
            return [app.build(spec, llm=False) for spec in scanner_specs]

        return cls(
            skills=discover([(spec, registry.owner("skill", spec.name)) for spec in registry.all("skill")], workspace),
            store=SkillStateStore(app.data_root / "skills"),
            scanners=ScannerSet(names=tuple(spec.name for spec in scanner_specs), build=build),
        )

    # -- scanning --------------------------------------------------------------------------

    def _scanner_runtimes(self) -> list[Any]:
        if self._built is None:
            self._built = self.scanners.build()
        return self._built

    def scan_folder(self, path: Path) -> list[Finding]:
        """Run every scanner on ``path`` now (no cache). Raises UsageError without a scanner."""
        if not self.scanners.names:
            raise UsageError(
                "no skill scanner is installed, so nothing can be scanned; "
                "install one with `pip install nanofolks-skill-scanner`"
            )
        findings: list[Finding] = []
        for scanner in self._scanner_runtimes():
            findings += scanner.scan(Path(path))
        return sorted(findings, key=lambda f: (f.file, f.line, f.rule))

    def _rating(self, skill: Skill, digest: str, rescan: bool) -> tuple[Risk | None, tuple[Finding, ...], str]:
        if not self.scanners.names:
            return None, (), "not scanned: no scanner installed"
        cached = None if rescan else self.store.cached_scan(digest, self.scanners.key)
        if cached is not None:
            return rate(cached.findings), cached.findings, ""
        try:
            findings = tuple(self.scan_folder(skill.path))
        except Exception as exc:  # noqa: BLE001 - a scanner's failure leaves the skill unrated, never loaded
            log.warning("scanning skill %s failed: %s: %s", skill.name, type(exc).__name__, exc)
            return None, (), f"not scanned: the scanner failed ({type(exc).__name__}: {exc})"
        self.store.save_scan(digest, ScanResult(scanner=self.scanners.key, findings=findings))
        return rate(findings), findings, ""

    # -- statuses --------------------------------------------------------------------------

    def entry(self, skill: Skill, approvals: dict[str, Approval] | None = None, *, rescan: bool = False) -> SkillEntry:
        """Rate one skill (from the cache when unchanged) and decide its status."""
        if skill.error is not None:
            return SkillEntry(skill=skill, status=Status.INVALID, note=skill.error)
        if skill.shadowed_by is not None:
            return SkillEntry(skill=skill, status=Status.SHADOWED, note=f"shadowed by {skill.shadowed_by}")
        digest = content_hash(skill.path)
        risk, findings, note = self._rating(skill, digest, rescan)
        approvals = self.store.approvals() if approvals is None else approvals
        approval = approvals.get(skill.name)
        status = decide(risk, approval, digest)
        if not note and approval is not None and approval.content_hash != digest and not status.loads:
            note = "changed since it was approved: review it and approve again"
        elif not note and status is Status.BLOCKED:
            note = f"Critical: review it, then `nanofolks skills approve {skill.name} --force`"
        elif not note and status is Status.NEEDS_APPROVAL:
            note = f"review it, then `nanofolks skills approve {skill.name}`"
        missing = tuple(b for b in (skill.manifest.requires.get("bins", ()) if skill.manifest else ()) if not which(b))
        if missing and status.loads:
            note = f"needs {', '.join(missing)} on PATH: install it to offer the skill to the crew"
        return SkillEntry(
            skill=skill, status=status, risk=risk, findings=findings, content_hash=digest, note=note, missing=missing
        )

    def entries(self, *, rescan: bool = False) -> list[SkillEntry]:
        approvals = self.store.approvals()
        return [self.entry(skill, approvals, rescan=rescan) for skill in self.skills]

    def loadable(self) -> list[SkillEntry]:
        """The skills the crew may use now (allowed to load, and the programs they need installed)."""
        return [entry for entry in self.entries() if entry.status.loads and not entry.missing]

    def find(self, name: str) -> Skill:
        """The skill in use under ``name`` (not a shadowed one). Raises UsageError naming what exists."""
        for skill in self.skills:
            if skill.name == name and skill.shadowed_by is None:
                return skill
        known = ", ".join(sorted({s.name for s in self.skills})) or "none"
        raise UsageError(f"no skill named {name!r} (skills found: {known}); see `nanofolks skills list`")

    # -- approval --------------------------------------------------------------------------

    def approve(self, name: str, *, force: bool = False) -> SkillEntry:
        """Approve the current content of ``name``. Critical needs ``force``; an invalid skill cannot be."""
        skill = self.find(name)
        entry = self.entry(skill)
        if entry.status is Status.INVALID:
            raise UsageError(f"skill {name!r} cannot be approved: {entry.note}")
        if entry.risk is Risk.CRITICAL and not force:
            raise UsageError(
                f"skill {name!r} is rated Critical ({len(entry.findings)} findings; see `nanofolks skills scan "
                f"{skill.path}`). It stays blocked; if you have read its code and trust it, run "
                f"`nanofolks skills approve {name} --force`"
            )
        risk = entry.risk.label if entry.risk else "unscanned"
        self.store.approve(
            Approval(name=name, content_hash=entry.content_hash, risk=risk, forced=force, path=str(skill.path))
        )
        return self.entry(skill)

    def revoke(self, name: str) -> bool:
        """Withdraw the approval of ``name``; False if it had none."""
        return self.store.revoke(name)


def _owner_of(spec: Any) -> str:
    # Services carry specs, not owners; the package a skill lives in names where it came from.
    return str(getattr(spec, "resource", "")).partition(":")[0] or "plugin"


def scan_path(catalog: SkillCatalog, path: Path) -> tuple[Skill, list[Finding], Risk]:
    """Scan a folder (or a SKILL.md) now, without the cache: for ``nanofolks skills scan PATH``."""
    path = Path(path).expanduser()
    if path.is_file():
        path = path.parent
    if not path.is_dir():
        raise UsageError(f"{path} is not a folder; give the skill's folder (the one holding SKILL.md)")
    skill = load_skill(path, "path")
    findings = catalog.scan_folder(path)
    return skill, findings, rate(findings)
