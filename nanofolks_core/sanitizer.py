"""The secret sanitizer: masks credentials before text reaches a model, a log or a session file.

Patterns come from plugins (``nanofolks_register_secret_patterns``); the core registers the
common ones. It is the last line of defence, so it errs on the side of masking.
"""

from __future__ import annotations

from collections.abc import Iterable

from nanofolks_core.specs import SecretPatternSpec

MASK = "***"


class SecretSanitizer:
    """Replaces every credential the registered patterns find (each with its check, see
    :mod:`nanofolks_core.security`) by a short visible prefix and ``***``."""

    def __init__(self, patterns: Iterable[SecretPatternSpec]) -> None:
        from nanofolks_core.security.detect import CredentialDetector

        specs = list(patterns)
        self.names = [spec.name for spec in specs]
        self.detector = CredentialDetector(specs)

    def mask(self, text: str) -> str:
        if not text or not isinstance(text, str):
            return text
        return self.detector.mask(text)

    def __call__(self, text: str) -> str:
        return self.mask(text)
