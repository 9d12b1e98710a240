"""Finding skills: folders holding a SKILL.md, from installed skill packages and the workspace.

Where a skill comes from is its ``source``:

- ``workspace``: ``<workspace>/skills/<name>/SKILL.md`` (the user's own, first in line);
- ``plugin:<entry name>``: a folder an installed skill package registered (``SkillSpec.resource``).

Two skills with one name: the first in that order is used, the later one is ``shadowed``.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
from collections.abc import Iterable
from pathlib import Path

import attrs

from nanofolks_core.skills.manifest import SkillFormatError, SkillManifest, parse_skill_md

SKILL_FILE = "SKILL.md"
#: A SKILL.md larger than this is refused rather than read into memory or a prompt.
MAX_SKILL_FILE = 512_000
# Build and cache litter is not part of a skill's content.
_IGNORED_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_IGNORED_SUFFIXES = (".pyc", ".pyo")


@attrs.frozen(kw_only=True)
class Skill:
    """One skill folder. ``manifest`` is None when its SKILL.md cannot be used (``error`` says why)."""

    name: str
    path: Path
    source: str
    manifest: SkillManifest | None = None
    error: str | None = None
    shadowed_by: str | None = None

    @property
    def description(self) -> str:
        return self.manifest.description if self.manifest else ""


def skill_files(folder: Path) -> list[Path]:
    """Every file of a skill, sorted, without build litter. Symbolic links are listed, never followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        # A symlinked folder is not walked into, but it is part of the skill: list it as a file.
        found += [Path(root, d) for d in dirs if Path(root, d).is_symlink()]
        found += [Path(root, f) for f in files if not f.endswith(_IGNORED_SUFFIXES)]
    return sorted(found)


def content_hash(folder: Path) -> str:
    """A SHA-256 over every file's relative path and bytes (a link's target text): any change shows."""
    digest = hashlib.sha256()
    for path in skill_files(folder):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            data = b"link:" + os.readlink(path).encode("utf-8", "surrogateescape")
        else:
            data = path.read_bytes()
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0" + str(len(data)).encode() + b"\0")
        digest.update(data)
    return digest.hexdigest()


def load_skill(folder: Path, source: str, *, fallback_name: str | None = None) -> Skill:
    """Read the skill in ``folder``; a bad SKILL.md gives a Skill with ``error`` set, never an exception."""
    folder = Path(folder)
    name = fallback_name or folder.name
    skill_md = folder / SKILL_FILE
    try:
        if skill_md.is_symlink():
            raise SkillFormatError(f"{skill_md}: SKILL.md is a symbolic link; make it a regular file")
        if skill_md.stat().st_size > MAX_SKILL_FILE:
            raise SkillFormatError(f"{skill_md}: larger than {MAX_SKILL_FILE // 1000} kB")
        text = skill_md.read_bytes().decode("utf-8", errors="replace")
        manifest = parse_skill_md(text, where=str(skill_md), fallback_name=_valid_or_none(name))
    except FileNotFoundError:
        return Skill(name=name, path=folder, source=source, error=f"{folder}: no {SKILL_FILE} in it")
    except (SkillFormatError, OSError) as exc:
        return Skill(name=name, path=folder, source=source, error=str(exc))
    return Skill(name=manifest.name, path=folder, source=source, manifest=manifest)


def _valid_or_none(name: str) -> str | None:
    from nanofolks_core.skills.manifest import SKILL_NAME_RE

    return name if SKILL_NAME_RE.match(name) else None


def resource_folder(resource: str) -> Path:
    """The folder a ``SkillSpec.resource`` (``"package:relative/dir"``) names, on disk."""
    package, _, relative = resource.partition(":")
    target = importlib.resources.files(package).joinpath(relative)
    path = Path(str(target))
    if path.name == SKILL_FILE:
        path = path.parent
    if not path.is_dir():
        raise FileNotFoundError(f"skill resource {resource!r} is not a folder on disk ({path})")
    return path


def workspace_skills(workspace: Path | None) -> list[Skill]:
    """Skills in ``<workspace>/skills/*/``."""
    if workspace is None:
        return []
    base = Path(workspace) / "skills"
    if not base.is_dir():
        return []
    return [load_skill(folder, "workspace") for folder in sorted(base.iterdir()) if folder.is_dir()]


def package_skills(registered: Iterable[tuple[object, str]]) -> list[Skill]:
    """Skills registered by installed packages: ``(SkillSpec, owning plugin)`` pairs."""
    skills = []
    for spec, owner in registered:
        source = f"plugin:{owner}"
        try:
            folder = resource_folder(spec.resource)  # type: ignore[attr-defined]
        except (ImportError, OSError, TypeError, ValueError) as exc:
            error = f"skill {spec.name!r} of {owner}: {exc}"  # type: ignore[attr-defined]
            skills.append(Skill(name=spec.name, path=Path(), source=source, error=error))  # type: ignore[attr-defined]
            continue
        skills.append(load_skill(folder, source, fallback_name=spec.name))  # type: ignore[attr-defined]
    return skills


def discover(registered: Iterable[tuple[object, str]], workspace: Path | None) -> list[Skill]:
    """Every skill, in precedence order; a later skill with a name already seen is marked shadowed."""
    seen: dict[str, Skill] = {}
    result = []
    for skill in [*workspace_skills(workspace), *package_skills(registered)]:
        first = seen.get(skill.name)
        if first is not None:
            skill = attrs.evolve(skill, shadowed_by=f"{first.source} ({first.path})")
        else:
            seen[skill.name] = skill
        result.append(skill)
    return result
