"""The records the runtime contracts share: what the core hands a runtime and what runtimes hand back.

Plugins import them from :mod:`nanofolks_core.api`; :mod:`nanofolks_core.contracts` re-exports them
next to the protocols that use them, so that module stays the one place to read the contracts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from nanofolks_core.secret import Secret, SecretUnavailable

if TYPE_CHECKING:
    from nanofolks_core.contracts import LLMAccess

# ---------------------------------------------------------------------------
# Services: what the core hands every runtime it builds.
# ---------------------------------------------------------------------------


def _no_store(_name: str) -> str | None:
    return None


def _none_registered(_kind: str) -> list[Any]:
    return []


@attrs.frozen(kw_only=True)
class Services:
    """The small set of things a runtime may use, built by the core per contributing plugin.

    ``plugin`` is the owning plugin's entry-point name; ``data_root`` the whole data folder
    (``NANOFOLKS_HOME``); ``llm`` model access (None for providers themselves); ``log`` a
    logger named ``nanofolks.<plugin>``. ``registered(kind)`` lists the specs of one kind
    (a router reads the registered tiers with ``registered("router-tier")``).
    """

    plugin: str
    data_root: Path = attrs.field(converter=Path)
    llm: LLMAccess | None = None
    log: logging.Logger = attrs.field()
    secret_lookup: Callable[[str], str | None] = attrs.field(default=_no_store, repr=False)
    registered: Callable[[str], list[Any]] = attrs.field(default=_none_registered, repr=False)

    @log.default
    def _default_log(self) -> logging.Logger:
        return logging.getLogger(f"nanofolks.{self.plugin}")

    @property
    def data_dir(self) -> Path:
        """This plugin's own folder, ``<data_root>/plugins/<plugin>`` (created 0700 on first use)."""
        path = self.data_root / "plugins" / self.plugin
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def secret(self, value: Secret | str) -> str:
        """The value of a secret written inline, as ``env:NAME`` or as ``keyring:NAME``.

        ``keyring:`` names are looked up in the registered secret stores, highest priority
        first. Raises :class:`SecretUnavailable` with a message saying how to fix it.
        """
        if not isinstance(value, Secret):
            if not isinstance(value, str) or not value:
                raise SecretUnavailable(f"{self.plugin}: a secret is needed here, got {value!r}")
            value = Secret.parse(value)
        return value.reveal(self.secret_lookup)


# ---------------------------------------------------------------------------
# Health checks (``nanofolks doctor``)
# ---------------------------------------------------------------------------


@attrs.frozen
class Check:
    """One health check result. A store or runtime may offer ``doctor(repair=False) -> list[Check]``."""

    name: str
    ok: bool
    detail: str
    repaired: bool = False


# ---------------------------------------------------------------------------
# Memory, routing, tools, skills
# ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MemoryEvent:
    """One message to remember. ``role`` is "user" or "assistant"; ``bot`` says which crew member spoke;
    ``sender`` who wrote a user message, as the chat app names them (a display name, else an id;
    None from the terminal), so a memory backend can answer "what did Ada say about ...?"."""

    id: str
    room: str
    role: str
    text: str
    bot: str | None = None
    channel: str | None = None
    ts: float = attrs.field(factory=time.time)
    sender: str | None = None


@attrs.frozen(kw_only=True)
class MemoryHit:
    """A search result. ``kind``: "message", "fact", "entity", "preference"."""

    id: str
    text: str
    room: str | None
    ts: float
    score: float
    kind: str = "message"


@attrs.frozen(kw_only=True)
class RouteDecision:
    """``layer``: 1 (local classifier), 2 (LLM-assisted) or 0 (sticky: kept from the room's last turn)."""

    tier: str
    model: str
    confidence: float
    layer: int
    reason: str = ""


@attrs.frozen(kw_only=True)
class ToolContext:
    """Who is calling a tool, and where. ``workspace`` exists before any tool runs.

    ``services`` are the tool's own plugin's services (the core fills them in before the tool sees
    the context, so a turn may build one without them).
    """

    room: str
    bot: str
    workspace: Path
    services: Services = attrs.field(default=None)  # type: ignore[assignment]


@attrs.frozen(kw_only=True)
class Finding:
    """A problem a skill scanner found; ``severity``/``confidence``: low|medium|high; ``rule``: the check that fired."""

    file: str
    line: int
    severity: str
    confidence: str
    cwe: str | None
    message: str
    rule: str = ""


__all__ = ["Check", "Finding", "MemoryEvent", "MemoryHit", "RouteDecision", "Services", "ToolContext"]
