"""Finding credentials in text: :class:`CredentialDetector` over the registered secret patterns."""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from nanofolks_core.security.patterns import FORMATS_BY_NAME, HINTS

MASK = "***"


@attrs.frozen
class Detection:
    """One credential found in a text: ``text[start:end] == value``; ``kind`` is the pattern name."""

    kind: str
    reference: str
    start: int
    end: int
    value: str = attrs.field(repr=False)


@attrs.frozen
class _Rule:
    kind: str
    regex: re.Pattern[str]
    reference: str
    check: object
    rank: int  # 0: a vendor format; 1: a plugin's pattern; 2: a generic one (password=, Bearer)
    hints: tuple[str, ...] = ()  # lower-case literals, one of which every match contains; () = always run


class CredentialDetector:
    """Finds credentials with the registered patterns (``SecretPatternSpec``), each with its check.

    Built-in patterns carry the checks of :mod:`nanofolks_core.security.checks`; a plugin's
    pattern counts as found when it matches (its ``secret`` group, if it has one, is the value).
    Where matches overlap, a vendor format beats a generic one, then the earlier and longer wins.
    """

    def __init__(self, specs: Iterable[object]) -> None:
        self.rules: list[_Rule] = []
        for spec in specs:
            fmt = FORMATS_BY_NAME.get(spec.name)
            if fmt is not None and fmt.pattern == spec.pattern:
                rank = 2 if fmt.generic else 0
                self.rules.append(
                    _Rule(spec.name, re.compile(spec.pattern), fmt.reference, fmt.check, rank, HINTS.get(spec.name, ()))
                )
            else:
                reference = re.sub(r"[^a-z0-9]+", "_", spec.name.lower()).strip("_") or "secret"
                self.rules.append(_Rule(spec.name, re.compile(spec.pattern), reference, None, 1))

    def find(self, text: str) -> list[Detection]:
        """Every credential in ``text``, in order, without overlaps."""
        if not text or not self.rules:
            return []
        candidates: list[tuple[int, int, int, Detection, int]] = []
        lower = text.lower()
        for order, rule in enumerate(self.rules):
            if rule.hints and not any(hint in lower for hint in rule.hints):
                continue
            for match in rule.regex.finditer(text):
                group = "secret" if "secret" in rule.regex.groupindex and match.group("secret") else 0
                value = match.group(group)
                if MASK in value:
                    continue  # already masked (sk-or-v1-ab***): masking it again would hide which key it was
                if rule.check is not None and not _passes(rule.check, value, match):
                    continue
                start, end = match.span(group)
                found = Detection(rule.kind, rule.reference, start, end, value)
                candidates.append((rule.rank, start, start - end, found, order))
        candidates.sort(key=lambda c: (c[0], c[1], c[2], c[4]))
        taken: list[Detection] = []
        for *_, found, _order in candidates:
            if all(found.end <= t.start or found.start >= t.end for t in taken):
                taken.append(found)
        return sorted(taken, key=lambda d: d.start)

    def mask(self, text: str) -> str:
        """``text`` with every credential shortened to a visible start and ``***`` (``sk-or-v1-ab***``)."""
        return replace(text, self.find(text), masked)


def _passes(check, value: str, match: re.Match[str]) -> bool:
    # A check marked ``with_match`` also looks at the text around the value.
    return check(value, match) if getattr(check, "with_match", False) else check(value)


def masked(value: str) -> str:
    """Keep enough of the start to tell which key it was, never enough to use it."""
    return value[: min(len(value) // 4, 11)] + MASK


def replace(text: str, found: list[Detection], replacement) -> str:
    """``text`` with each detection replaced by ``replacement(detection.value)`` (or a fixed string)."""
    if not found:
        return text
    parts, last = [], 0
    for item in found:
        parts.append(text[last : item.start])
        parts.append(replacement(item.value) if callable(replacement) else replacement)
        last = item.end
    parts.append(text[last:])
    return "".join(parts)
