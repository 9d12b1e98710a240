"""Registers the skill scanner. Light: bandit is imported only when a skill is scanned."""

from nanofolks_core.api import SkillScannerSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_skill_scanners(register):
    register(
        SkillScannerSpec(
            name="skill-scanner",
            summary="bandit on a skill's Python, plus shell, credential, exfiltration, persistence and network checks",
            factory="nanofolks_skill_scanner.scanner:SkillSecurityScanner",
        )
    )
