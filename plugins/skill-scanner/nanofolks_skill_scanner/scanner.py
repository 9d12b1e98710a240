"""The skill scanner runtime: every file of a skill, bandit on its Python, the line rules on the rest.

What is checked where:

| piece                                 | bandit | Python checks | line rules                 |
|---------------------------------------|--------|---------------|----------------------------|
| ``.py`` files, python code blocks     | yes    | yes           | yes                        |
| shell scripts, shell/untagged blocks  |        |               | yes                        |
| inline code in Markdown               |        |               | yes                        |
| Markdown prose                        |        |               | yes, but not ``network``   |
| other text files (.js, .json ...)     |        |               | yes                        |
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nanofolks_core.api import Finding, UsageError
from nanofolks_skill_scanner.bandit_runner import run_bandit
from nanofolks_skill_scanner.python_checks import NETWORK_MODULES, check_python
from nanofolks_skill_scanner.rules import (
    ENV_DUMP,
    ENV_EXFIL,
    ENV_READ,
    ENV_TO_CHILD,
    ODDITIES,
    RULES,
    SCRIPT_NETWORK,
    Rule,
)
from nanofolks_skill_scanner.sources import Piece, pieces


class SkillSecurityScanner:
    """Implements ``SkillScanner``: ``scan(path) -> list[Finding]`` for a skill folder (or one file)."""

    def __init__(self, *, spec: Any = None, config: Any = None, services: Any = None) -> None:
        self.log = services.log if services is not None else None

    def scan(self, path: Path) -> list[Finding]:
        path = Path(path)
        if path.is_file():
            folder, only = path.parent, path.name
        elif path.is_dir():
            folder, only = path, None
        else:
            raise UsageError(f"{path} does not exist; give a skill folder (the one holding SKILL.md) or a file")
        found, odd = pieces(folder)
        if only is not None:
            found = [p for p in found if p.file == only]
            odd = [o for o in odd if o.file == only]
        findings: dict[tuple[str, int, str], Finding] = {}

        def add(finding: Finding) -> None:
            findings.setdefault((finding.file, finding.line, finding.rule), finding)

        for oddity in odd:
            severity, confidence, cwe, what = ODDITIES[oddity.what]
            add(Finding(file=oddity.file, line=1, severity=severity, confidence=confidence, cwe=cwe,
                        message=f"{oddity.file} {what} ({oddity.detail})", rule=oddity.what))  # fmt: skip
        python = [p for p in found if p.kind == "python"]
        issues, unparsed = run_bandit(folder, python)
        for issue in issues:
            add(Finding(**issue))
        for piece in python:
            hits, parsed = check_python(piece.text)
            for hit in hits:
                severity, confidence, message = hit.severity, hit.confidence, hit.message
                if hit.rule == "network" and piece.whole_file:
                    severity, confidence, message = (
                        SCRIPT_NETWORK[0],
                        SCRIPT_NETWORK[1],
                        f"{message} in a shipped script",
                    )
                add(_finding(piece, hit.line, hit.rule, severity, confidence, hit.cwe, message))
            if not parsed and piece.whole_file:
                add(_finding(piece, 1, "unparsable-python", "medium", "low", None,
                             "this Python file does not parse, so bandit could not check it"))  # fmt: skip
        for finding in _line_rules(found):
            add(finding)
        return sorted(findings.values(), key=lambda f: (f.file, f.line, f.rule))


def _finding(piece: Piece, line: int, rule: str, severity: str, confidence: str, cwe: str | None, message: str):
    return Finding(
        file=piece.file,
        line=piece.first_line + line - 1,
        severity=severity,
        confidence=confidence,
        cwe=cwe,
        message=message,
        rule=rule,
    )


def _from_rule(piece: Piece, offset: int, rule: Rule) -> Finding:
    if rule.id == "network" and piece.whole_file:
        severity, confidence, message = SCRIPT_NETWORK
        return _finding(piece, offset + 1, rule.id, severity, confidence, rule.cwe, message)
    return _finding(piece, offset + 1, rule.id, rule.severity, rule.confidence, rule.cwe, rule.message)


def _line_rules(found: list[Piece]) -> list[Finding]:
    results: list[Finding] = []
    uses_network: set[str] = set()
    env_lines: list[tuple[Piece, int]] = []
    for piece in found:
        for offset, line in enumerate(piece.text.splitlines()):
            matched: set[str] = set()
            for rule in RULES:
                if rule.id in matched or (rule.code_only and not piece.code):
                    continue
                if rule.pattern.search(line):
                    matched.add(rule.id)  # the first (most specific) variant of a rule wins
                    results.append(_from_rule(piece, offset, rule))
            if "network" in matched or (piece.code and _imports_network(line)):
                uses_network.add(piece.file)
            if piece.code and ENV_DUMP.search(line) and not ENV_TO_CHILD.search(line):
                env_lines.append((piece, offset))
    for piece, offset in env_lines:
        rule = ENV_EXFIL if piece.file in uses_network else ENV_READ
        results.append(_from_rule(piece, offset, rule))
    return results


def _imports_network(line: str) -> bool:
    words = line.replace(",", " ").split()
    return len(words) >= 2 and words[0] in ("import", "from") and words[1].split(".")[0] in NETWORK_MODULES
