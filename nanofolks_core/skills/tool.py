"""Progressive loading: the system prompt lists each usable skill in one line, and the
``read_skill`` tool reads a skill's full instructions (and its other files) only when a bot needs them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nanofolks_core.contracts import ToolContext
from nanofolks_core.errors import UsageError
from nanofolks_core.paths import resolve_inside
from nanofolks_core.skills.discovery import SKILL_FILE, skill_files
from nanofolks_core.skills.manifest import one_line

#: Most bytes ``read_skill`` returns from one file.
MAX_SKILL_READ = 100_000
#: Longest description shown in the system prompt (the rest is read with read_skill).
PROMPT_DESCRIPTION = 300
TOOL_NAME = "read_skill"
log = logging.getLogger("nanofolks.skills")


def skills_prompt_section(entries: Iterable) -> str:
    """The system-prompt section naming the skills a bot may use ("" when there are none).

    ``entries`` are the loadable :class:`~nanofolks_core.skills.catalog.SkillEntry` s.
    """
    lines = [f"- {entry.name}: {one_line(entry.skill.description, PROMPT_DESCRIPTION)}" for entry in entries]
    if not lines:
        return ""
    return (
        "## Skills\nSkills are instructions for particular jobs. When one fits the task, first call "
        f"`{TOOL_NAME}` with its name and follow what it says.\n" + "\n".join(lines)
    )


def crew_skills_section(app: Any, workspace: Path | None, warnings: list[str]) -> str:
    """The Skills section for the crew's system prompts (the skills that may load), or "".

    Scans only skills not scanned before. Anything going wrong costs the section, not the crew:
    it is added to ``warnings`` and logged.
    """
    from nanofolks_core.skills.catalog import SkillCatalog

    try:
        return skills_prompt_section(SkillCatalog.from_app(app, workspace).loadable())
    except Exception as exc:  # noqa: BLE001 - skills are a helper: the crew answers without them
        log.warning("skills are unavailable: %s: %s", type(exc).__name__, exc)
        warnings.append(f"skills are unavailable this turn: {type(exc).__name__}: {exc}")
        return ""


def read_skill(name: str, context: ToolContext, file: str = SKILL_FILE) -> str:
    """Read a skill's instructions (its SKILL.md) or another file it ships, before using the skill.

    Args:
        name: the skill's name, as listed under Skills in the system prompt
        file: a file inside the skill's folder, relative to it (default SKILL.md)
    """
    from nanofolks_core.skills.catalog import SkillCatalog

    catalog = SkillCatalog.from_services(context.services, context.workspace)
    skill = catalog.find(name)
    entry = catalog.entry(skill)
    if not entry.status.loads:
        raise PermissionError(f"skill {name!r} is not available ({entry.status}): {entry.note}")
    target = _inside(skill.path, file)
    data = target.read_bytes()[:MAX_SKILL_READ]
    text = data.decode("utf-8", errors="replace")
    if Path(file) == Path(SKILL_FILE):
        others = [p.relative_to(skill.path).as_posix() for p in skill_files(skill.path)]
        others = [p for p in others if p != SKILL_FILE]
        if others:
            text += "\n\n---\nOther files of this skill (read them with read_skill and file=...): " + ", ".join(others)
    return text


def _inside(folder: Path, relative: str) -> Path:
    """``relative`` inside ``folder``, refusing anything that leaves it (``..``, absolute paths, links out)."""
    target = resolve_inside(folder, relative, "the skill's folder")
    if not target.is_file():
        raise UsageError(f"the skill has no file {relative!r}")
    return target
