"""bandit, run in this process through its own manager (no subprocess, no report parsing).

Python files are checked where they are; Python code blocks from Markdown are written to a
private temporary folder first (bandit reads files), and their findings are moved back to the
Markdown file and line they came from. ``# nosec`` comments are ignored: a skill must not be
able to switch off the checks that rate it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from nanofolks_skill_scanner.sources import Piece

_config = None


def _bandit_config():
    global _config  # building bandit's config loads its plugins once per process
    if _config is None:
        from bandit.core import config

        _config = config.BanditConfig()
    return _config


def run_bandit(folder: Path, python: list[Piece]) -> tuple[list[dict], list[str]]:
    """Run bandit on the Python pieces of the skill in ``folder``.

    Returns the issues as dicts (file, line, rule, severity, confidence, cwe, message) and the
    files bandit could not parse.
    """
    if not python:
        return [], []
    from bandit.core import manager

    # bandit logs every file it cannot parse at error level; the scanner reports those itself.
    logging.getLogger("bandit").setLevel(logging.CRITICAL)
    issues: list[dict] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="nanofolks-scan-") as tmp:
        places: dict[str, Piece] = {}
        for number, piece in enumerate(python):
            if piece.whole_file:
                target = str((Path(folder) / piece.file).resolve())
            else:
                target = str(Path(tmp, f"block{number}.py"))
                Path(target).write_text(piece.text + "\n", encoding="utf-8")
            places[target] = piece
        run = manager.BanditManager(_bandit_config(), "file", quiet=True, ignore_nosec=True)
        run.files_list = sorted(places)
        run.run_tests()
        for fname, _reason in run.skipped:
            piece = places.get(fname)
            if piece is not None:
                skipped.append(piece.file if piece.whole_file else f"{piece.file}:{piece.first_line}")
        for issue in run.get_issue_list():
            piece = places.get(issue.fname)
            if piece is None:
                continue
            cwe = getattr(getattr(issue, "cwe", None), "id", None)
            issues.append(
                {
                    "file": piece.file,
                    "line": piece.first_line + max(issue.lineno, 1) - 1,
                    "rule": issue.test_id,
                    "severity": str(issue.severity).lower(),
                    "confidence": str(issue.confidence).lower(),
                    "cwe": f"CWE-{cwe}" if cwe else None,
                    "message": f"{issue.text} (bandit {issue.test_id} {issue.test})",
                }
            )
    return issues, skipped
