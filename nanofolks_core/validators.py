"""attrs validators for config classes, shared by the core and plugins (``nanofolks_core.api``).

Light module (stdlib and attrs only): plugin config classes are imported at discovery.
Each message starts with the key as users write it (camelCase), because the core reports a
validator's error at the section (``providers.vllm: timeout must be above 0, got -1``), and
all of a section's problems are reported together with its type errors::

    from nanofolks_core.api import validators

    @attrs.define(kw_only=True)
    class EchoConfig:
        delay: float = attrs.field(default=0.5, validator=validators.at_least(0))
        volume: int = attrs.field(default=5, validator=validators.between(0, 11))
        mode: str = attrs.field(default="loud", validator=validators.one_of("loud", "quiet"))
        url: str | None = attrs.field(default=None, validator=validators.http_url())
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]

__all__ = ["above", "at_least", "at_most", "between", "config_key", "http_url", "one_of"]


def config_key(attribute: attrs.Attribute) -> str:
    """The config file's spelling of a field: ``max_tokens`` -> ``maxTokens``."""
    head, *rest = (attribute.alias or attribute.name).lstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _number_range(low: float | None, high: float | None, *, strict_low: bool, text: str) -> Validator:
    def check(_inst: object, attribute: attrs.Attribute, value: float | None) -> None:
        if value is None:
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{config_key(attribute)} must be a finite number {text}, got {value}")
        too_low = low is not None and (value <= low if strict_low else value < low)
        if too_low or (high is not None and value > high):
            raise ValueError(f"{config_key(attribute)} must be {text}, got {value}")

    return check


def between(low: float, high: float) -> Validator:
    """``low <= value <= high`` (None passes: use it with optional fields). NaN/inf never pass."""
    return _number_range(low, high, strict_low=False, text=f"from {low} to {high}")


def at_least(low: float) -> Validator:
    """``value >= low``."""
    return _number_range(low, None, strict_low=False, text=f"at least {low}")


def above(low: float, high: float | None = None) -> Validator:
    """``value > low`` (and ``<= high`` when given), e.g. ``above(0)`` for a timeout."""
    text = f"above {low}" + (f" and at most {high}" if high is not None else "")
    return _number_range(low, high, strict_low=True, text=text)


def at_most(high: float) -> Validator:
    """``value <= high``."""
    return _number_range(None, high, strict_low=False, text=f"at most {high}")


def one_of(*choices: str) -> Validator:
    """The value is one of ``choices`` (the message lists them)."""
    listed = ", ".join(repr(c) for c in choices)

    def check(_inst: object, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value not in choices:
            raise ValueError(f"{config_key(attribute)} must be one of {listed}, got {value!r}")

    return check


def http_url(*, schemes: tuple[str, ...] = ("http", "https")) -> Validator:
    """An ``http://`` or ``https://`` URL with a host (credentials in it are masked in the message)."""

    def check(_inst: object, attribute: attrs.Attribute, value: str | None) -> None:
        if value is None:
            return
        from urllib.parse import urlsplit

        from nanofolks_core.masking import mask_url

        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in schemes or not parts.netloc:
            wanted = " or ".join(f"{s}://" for s in schemes)
            # Schemes are read letter by letter: "an http://", "an ftp://", "a ws://".
            article = "an" if wanted[:1] in "aefhilmnorsx" else "a"
            raise ValueError(
                f"{config_key(attribute)} must be {article} {wanted} URL such as http://127.0.0.1:8000/v1, "
                f"got {mask_url(value) if isinstance(value, str) else value!r}"
            )

    return check
