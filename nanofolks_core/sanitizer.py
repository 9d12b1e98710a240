"""The secret sanitizer: masks credentials before text reaches a model, a log or a session file.

Patterns come from plugins (``nanofolks_register_secret_patterns``); the core registers the
common ones. It is the last line of defence, so it errs on the side of masking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nanofolks_core.specs import SecretPatternSpec

MASK = "***"


class SecretSanitizer:
    """Replaces every match of any registered pattern by a short visible prefix and ``***``."""

    def __init__(self, patterns: Iterable[SecretPatternSpec]) -> None:
        specs = list(patterns)
        self.names = [spec.name for spec in specs]
        # One alternation, so a text is scanned once however many patterns there are.
        self._regex = re.compile("|".join(_scoped(spec.pattern) for spec in specs)) if specs else None

    def mask(self, text: str) -> str:
        if not text or self._regex is None:
            return text
        return self._regex.sub(_masked, text)

    def __call__(self, text: str) -> str:
        return self.mask(text)


_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def _scoped(pattern: str) -> str:
    """``(?i)abc`` -> ``(?i:abc)``: global flags are only allowed at the start of the joined pattern."""
    match = _GLOBAL_FLAGS.match(pattern)
    if match:
        return f"(?{match.group(1)}:{pattern[match.end() :]})"
    return f"(?:{pattern})"


def _masked(match: re.Match[str]) -> str:
    secret = match.group(0)
    # Keep enough of the start to tell which key it was (sk-or-v1-ab***), never enough to use it.
    visible = min(len(secret) // 4, 11)
    return secret[:visible] + MASK
