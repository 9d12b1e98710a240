"""SKILL.md: YAML frontmatter (``name``, ``description``, optional ``requires``) and a Markdown body.

The format is the public Agent Skills one::

    ---
    name: weather
    description: Current weather and forecasts for a place, from wttr.in.
    requires:
      bins: [curl]
    ---
    # Weather
    ...

The core stays free of a YAML dependency, so this reads the subset skill files use: ``key: value``
scalars (plain or quoted), block scalars (``|`` and ``>``), inline ``[a, b]`` lists, inline JSON
objects, ``- item`` lists and nested maps by indentation. Keys it does not know (``license``,
``allowed-tools``, ``metadata`` ...) are kept in ``extra`` and otherwise ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from nanofolks_core.text import clean_text

#: Agent Skills names: lowercase letters, digits and single hyphens, at most 64 characters.
SKILL_NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,63}$")
MAX_DESCRIPTION = 1024
_KEY_RE = re.compile(r"^([A-Za-z_][\w-]*)\s*:(?:\s+(.*))?$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")


class SkillFormatError(ValueError):
    """A SKILL.md that cannot be used; the message names the file and what to fix."""


@attrs.frozen(kw_only=True)
class SkillManifest:
    """What a SKILL.md says about its skill.

    ``requires`` maps a kind (``bins``, ``env`` ...) to names; a bare list means ``bins``.
    ``body_line`` is the 1-based line of the file where the Markdown body starts.
    """

    name: str
    description: str
    requires: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    extra: dict[str, Any] = attrs.field(factory=dict)
    body: str = ""
    body_line: int = 1


def one_line(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` as one clean line (control characters and runs of spaces collapsed), cut at ``limit``."""
    flat = " ".join(_CONTROL_RE.sub(" ", clean_text(text)).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def split_frontmatter(text: str) -> tuple[list[str], int] | None:
    """The frontmatter lines and the 1-based line where the body starts, or None without frontmatter."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            return lines[1:index], index + 2
    return None


def parse_skill_md(text: str, *, where: str, fallback_name: str | None = None) -> SkillManifest:
    """Read a SKILL.md's text. ``where`` (the file) is named in errors; ``fallback_name`` (the folder
    name) is used when the frontmatter has no ``name``. Raises :class:`SkillFormatError`."""
    text = clean_text(text.removeprefix("\ufeff"))
    found = split_frontmatter(text)
    if found is None:
        raise SkillFormatError(
            f"{where}: no frontmatter; start the file with '---', then 'name: ...' and 'description: ...', then '---'"
        )
    lines, body_line = found
    try:
        data, _ = _parse_block(lines, 0, 0)
    except ValueError as exc:
        raise SkillFormatError(f"{where}: frontmatter is not valid: {exc}") from None
    if not isinstance(data, dict):
        raise SkillFormatError(f"{where}: frontmatter must be 'key: value' lines")
    name = data.pop("name", None) or fallback_name
    if not isinstance(name, str) or not SKILL_NAME_RE.match(name):
        raise SkillFormatError(
            f"{where}: name {name!r} is not valid: use 1-64 lowercase letters, digits and single hyphens"
        )
    description = data.pop("description", None)
    if not isinstance(description, str) or not description.strip():
        raise SkillFormatError(f"{where}: 'description' is missing; say in one line what the skill does and when")
    requires = _requires(data.pop("requires", None), where)
    body = "\n".join(text.splitlines()[body_line - 1 :])
    return SkillManifest(
        name=name, description=one_line(description), requires=requires, extra=data, body=body, body_line=body_line
    )


def _requires(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if value in (None, "", [], {}):
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = {"bins": value}
    if not isinstance(value, dict):
        raise SkillFormatError(f"{where}: 'requires' must be a list of programs or a map like {{bins: [gh]}}")
    result = {}
    for kind, names in value.items():
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise SkillFormatError(f"{where}: requires.{kind} must be a list of names")
        result[str(kind)] = tuple(names)
    return result


# -- the YAML subset ---------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _significant(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _parse_block(lines: list[str], start: int, indent: int) -> tuple[Any, int]:
    """Parse the block of lines at ``indent`` from ``start``; return (value, next index)."""
    index = start
    while index < len(lines) and not _significant(lines[index]):
        index += 1
    if index >= len(lines):
        return {}, index
    if lines[index].strip().startswith("- ") or lines[index].strip() == "-":
        return _parse_list(lines, index, _indent(lines[index]))
    result: dict[str, Any] = {}
    while index < len(lines):
        line = lines[index]
        if not _significant(line):
            index += 1
            continue
        if _indent(line) < indent:
            break
        if "\t" in line[: _indent(line) + 1]:
            raise ValueError(f"line {index + 1}: indent with spaces, not tabs")
        match = _KEY_RE.match(line.strip())
        if not match:
            raise ValueError(f"line {index + 1}: expected 'key: value', got {line.strip()!r}")
        key, raw = match[1], (match[2] or "").strip()
        index += 1
        if raw in ("|", "|-", "|+", ">", ">-", ">+"):
            value, index = _block_scalar(lines, index, indent, folded=raw.startswith(">"))
        elif raw == "" or raw.startswith("#"):
            child = index
            while child < len(lines) and not _significant(lines[child]):
                child += 1
            if child < len(lines) and _indent(lines[child]) > indent:
                value, index = _parse_block(lines, child, _indent(lines[child]))
            elif child < len(lines) and _indent(lines[child]) == indent and lines[child].strip().startswith("-"):
                value, index = _parse_list(lines, child, indent)
            else:
                value = None
        else:
            value = _scalar(raw)
        result[key] = value
    return result, index


def _parse_list(lines: list[str], index: int, indent: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while index < len(lines):
        line = lines[index]
        if not _significant(line):
            index += 1
            continue
        stripped = line.strip()
        if _indent(line) != indent or not (stripped.startswith("- ") or stripped == "-"):
            break
        items.append(_scalar(stripped[1:].strip()))
        index += 1
    return items, index


def _block_scalar(lines: list[str], index: int, indent: int, *, folded: bool) -> tuple[str, int]:
    chunk: list[str] = []
    while index < len(lines) and (not lines[index].strip() or _indent(lines[index]) > indent):
        chunk.append(lines[index].strip())
        index += 1
    while chunk and not chunk[-1]:
        chunk.pop()
    return (" ".join(c for c in chunk if c) if folded else "\n".join(chunk)), index


def _scalar(raw: str) -> Any:
    raw = raw.strip()
    if not raw:
        return None
    if raw[0] in "[{":
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            if raw[0] == "[" and raw.endswith("]"):
                return [_scalar(part) for part in raw[1:-1].split(",") if part.strip()]
            if raw[0] == "{" and raw.endswith("}"):
                pairs = (part.partition(":") for part in _split_flow(raw[1:-1]))
                return {k.strip().strip("'\""): _scalar(v) for k, _, v in pairs if k.strip()}
            raise ValueError(f"cannot read {raw!r}") from None
    if raw[0] in "'\"":
        quote = raw[0]
        end = raw.rfind(quote)
        if end <= 0:
            raise ValueError(f"unterminated quote in {raw!r}")
        inner = raw[1:end]
        return inner.replace("''", "'") if quote == "'" else json.loads(f'"{inner}"')
    value = re.sub(r"\s+#.*$", "", raw)  # a trailing comment
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "~"):
        return None
    return value


def _split_flow(text: str) -> list[str]:
    """Split ``a: [x, y], b: z`` at the commas outside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
