"""Secret values in config: inline, or a reference to an environment variable or a secret store.

In config.json a secret field takes one of::

    "sk-or-v1-..."                  an inline value (works, but prefer a reference)
    "env:OPENROUTER_API_KEY"        read from the environment when used
    "keyring:openrouter"            read from a registered secret store (nanofolks-keyring)

A :class:`Secret` never shows its value: ``str``/``repr`` print ``***`` (or the reference).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import attrs

from nanofolks_core.errors import NanofolksError


class SecretUnavailable(NanofolksError):
    """A referenced secret could not be found."""


@attrs.frozen(repr=False)
class Secret:
    """A credential from config. ``source`` is ``"inline"``, ``"env"`` or ``"keyring"``."""

    source: str
    ref: str = attrs.field(eq=False)  # the variable/entry name, or the inline value

    @classmethod
    def parse(cls, text: str) -> Secret:
        for prefix in ("env", "keyring"):
            if text.startswith(prefix + ":") and len(text) > len(prefix) + 1:
                return cls(prefix, text[len(prefix) + 1 :])
        return cls("inline", text)

    def reveal(self, lookup_store: Callable[[str], str | None] | None = None) -> str:
        """Return the value. ``lookup_store`` resolves ``keyring:`` names (the core passes its stores)."""
        if self.source == "inline":
            return self.ref
        if self.source == "env":
            value = os.environ.get(self.ref)
            if not value:
                raise SecretUnavailable(f"environment variable {self.ref} is not set; export it or change the config")
            return value
        value = lookup_store(self.ref) if lookup_store else None
        if not value:
            raise SecretUnavailable(
                f"no secret named {self.ref!r} in the secret store; add it with `nanofolks secrets set {self.ref}`"
            )
        return value

    def display(self) -> str:
        """What config show prints: references as written, inline values masked."""
        return "***" if self.source == "inline" else f"{self.source}:{self.ref}"

    def __repr__(self) -> str:
        return f"Secret({self.display()})"

    __str__ = display
