"""Templates for ``nanofolks plugins new``: a ready-to-install plugin distribution per kind.

Templates are package data under ``templates/<kind>/`` (plus ``templates/common/`` for every
kind). File and folder names may contain ``__package__``; file contents use ``{{placeholder}}``
markers (plain text replacement, so the Python and TOML in the templates need no escaping).
A ``.tmpl`` suffix keeps the template tests and modules from being collected or linted as code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: The kinds ``plugins new`` can write, with the one-line description used in help and README.
KINDS: dict[str, str] = {
    "tool": "a tool the bots can call (function form)",
    "team": "a team persona pack (six characters in a TOML file)",
    "channel": "a chat channel (JSON lines over TCP, a starting point for a real chat app)",
    "provider": "an LLM provider for an OpenAI-compatible HTTP API",
    "memory": "a memory backend (a JSON-lines file with word-overlap search)",
    "command": "a top-level CLI command (`nanofolks NAME`)",
}

# Entry-point names are what users type (`team-pirate`, `telegram`): teams carry a prefix.
_PREFIXES = {"team": "team-"}
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_MAX_NAME = 40


class ScaffoldError(ValueError):
    """NAME or target folder cannot be used; the message says why and what to do."""


@attrs.frozen
class Names:
    """Every spelling of one plugin name the templates need."""

    kind: str
    spec: str  # the contribution's name in the registry: `pirate`, `word_count`
    entry: str  # the entry-point name users type: `team-pirate`, `word-count`
    dist: str  # the distribution: `nanofolks-team-pirate`
    package: str  # the import package: `nanofolks_team_pirate`
    ident: str  # a Python identifier: `word_count`
    cls: str  # a class-name stem: `WordCount`
    title: str  # for people: `Word Count`

    @classmethod
    def parse(cls, name: str, kind: str) -> Names:
        if kind not in KINDS:
            raise ScaffoldError(f"unknown kind {kind!r}: choose one of {', '.join(KINDS)}")
        raw = name.strip()
        if raw.startswith("nanofolks-"):
            raw = raw.removeprefix("nanofolks-")
        prefix = _PREFIXES.get(kind, "")
        base = raw.removeprefix(prefix) if prefix else raw
        if not _NAME_RE.match(base) or len(base) > _MAX_NAME:
            raise ScaffoldError(
                f"plugin name {name!r} is not valid: use lowercase letters and digits in words joined by "
                f"single '-', starting with a letter, at most {_MAX_NAME} characters (e.g. word-count)"
            )
        ident = base.replace("-", "_")
        entry = prefix + base
        return cls(
            kind=kind,
            spec=ident if kind == "tool" else base,
            entry=entry,
            dist=f"nanofolks-{entry}",
            package=f"nanofolks_{entry.replace('-', '_')}",
            ident=ident,
            cls="".join(part.capitalize() for part in base.split("-")),
            title=" ".join(part.capitalize() for part in base.split("-")),
        )


def core_requirement() -> str:
    """The compatible range of the running core: ``>=0.1,<0.2`` before 1.0, ``>=1.2,<2`` after."""
    # Imported here: `nanofolks --help` and `plugins list` load this module, and importlib.metadata
    # alone costs ~20 ms of their start-up.
    from importlib import metadata

    try:
        version = metadata.version("nanofolks-core")
    except metadata.PackageNotFoundError:  # a source checkout without metadata
        from nanofolks_core import __version__ as version
    major, minor = (int(part) for part in re.findall(r"\d+", version)[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f">={major}.{minor},<{upper}"


def _placeholders(names: Names) -> dict[str, str]:
    from nanofolks_core.api_version import API_VERSION

    return {
        "{{kind}}": names.kind,
        "{{kind_help}}": KINDS[names.kind],
        "{{spec}}": names.spec,
        "{{entry}}": names.entry,
        "{{dist}}": names.dist,
        "{{package}}": names.package,
        "{{ident}}": names.ident,
        "{{IDENT}}": names.ident.upper(),
        "{{Class}}": names.cls,
        "{{title}}": names.title,
        "{{core_range}}": core_requirement(),
        "{{api}}": API_VERSION,
    }


def _fill(text: str, values: dict[str, str]) -> str:
    for marker, value in values.items():
        text = text.replace(marker, value)
    leftover = re.search(r"\{\{\w+\}\}", text)
    if leftover:  # a template bug, not a user error: fail loudly in our own tests
        raise RuntimeError(f"template placeholder {leftover.group()} has no value")
    return text


def _walk(folder: Traversable, rel: str = "") -> list[tuple[str, str]]:
    files = []
    for item in sorted(folder.iterdir(), key=lambda entry: entry.name):
        path = f"{rel}/{item.name}" if rel else item.name
        if item.is_dir():
            if item.name != "__pycache__":
                files.extend(_walk(item, path))
        elif item.name.endswith(".tmpl"):
            files.append((path.removesuffix(".tmpl"), item.read_text(encoding="utf-8")))
    return files


def render(names: Names) -> dict[str, str]:
    """``{relative path: text}`` of the whole distribution, without touching the disk."""
    from importlib import resources

    templates = resources.files(__package__) / "templates"
    values = _placeholders(names)
    out: dict[str, str] = {}
    for folder in ("common", names.kind):
        for rel, text in _walk(templates / folder):
            out[rel.replace("__package__", names.package)] = _fill(text, values)
    return out


def write(names: Names, parent: Path) -> Path:
    """Write the distribution into ``parent/<dist>`` and return that folder.

    Refuses a folder that already exists (even an empty one), so nothing is ever overwritten.
    """
    target = parent / names.dist
    if target.exists():
        raise ScaffoldError(f"{target} already exists: choose another NAME or --dir, or remove that folder first")
    files = render(names)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        target.mkdir()
        for rel, text in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(f"cannot write {target}: {exc.strerror or exc}; pick a writable --dir") from None
    return target
