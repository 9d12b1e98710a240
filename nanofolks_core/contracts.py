"""Every runtime contract in one place: the protocols plugin runtimes implement and the records they share.

Every runtime is built one way, by the core, from the spec a plugin registered::

    runtime = factory(spec=spec, config=<its own validated config section, or None>, services=services)

``factory`` is what ``spec.factory`` names: a class, or a function returning the runtime.
(Function-form tools are the one exception: see :mod:`nanofolks_core.tools`.)
Plugins import all of this from :mod:`nanofolks_core.api`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from nanofolks_core.messages import InboundMessage, LLMRequest, LLMResponse, OutboundMessage
from nanofolks_core.secret import Secret, SecretUnavailable

if TYPE_CHECKING:
    from nanofolks_core.sessions.message import SessionMessage

# ---------------------------------------------------------------------------
# Services: what the core hands every runtime it builds.
# ---------------------------------------------------------------------------


@runtime_checkable
class LLMAccess(Protocol):
    """Model calls for plugin runtimes; they go through the same providers and hooks as the crew's."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Send a request to the provider serving ``request.model``."""
        ...

    async def ask(self, prompt: str, *, model: str | None = None, tier: str | None = None) -> str:
        """One short plain-text call; ``model`` defaults to ``agents.defaults.model``, ``tier`` tags it."""
        ...


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
# Providers
# ---------------------------------------------------------------------------


@runtime_checkable
class Provider(Protocol):
    """An LLM provider runtime. Optional extras: ``context_window(model) -> int | None`` and
    ``count_tokens(model, messages) -> int``.
    """

    async def complete(self, request: LLMRequest, *, on_delta: Callable[[str], None] | None = None) -> LLMResponse:
        """Send ``request``; when ``on_delta`` is given, stream and call it with each text piece.

        Returns the whole response (content, tool calls, usage, cost) either way. Retries
        transient errors with backoff; raises ``ProviderAuthError`` on bad credentials and
        ``ProviderError`` when the provider stays unreachable.
        """
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class MemoryEvent:
    """One message to remember. ``role`` is "user" or "assistant"; ``bot`` says which crew member spoke."""

    id: str
    room: str
    role: str
    text: str
    bot: str | None = None
    channel: str | None = None
    ts: float = attrs.field(factory=time.time)


@attrs.frozen(kw_only=True)
class MemoryHit:
    """A search result. ``kind``: "message", "fact", "entity", "preference"."""

    id: str
    text: str
    room: str | None
    ts: float
    score: float
    kind: str = "message"


@runtime_checkable
class MemoryBackend(Protocol):
    """What a memory backend does. The pipeline calls ``record`` for every user and assistant
    message and ``context`` before each bot's model call.
    """

    def record(self, event: MemoryEvent) -> None:
        """Remember a message. Must return quickly (queue the work); never calls an LLM."""

    async def context(self, query: str, *, room: str, bot: str, budget_tokens: int) -> str:
        """A prompt section with relevant memories, entities and preferences, within the budget ('' if none).

        Facts about the user travel across rooms; a room's conversation itself stays in its room.
        """

    def search(self, query: str, *, limit: int = 10, room: str | None = None) -> list[MemoryHit]:
        """Ranked results, best first."""

    def forget(self, *, entry_id: str | None = None, room: str | None = None) -> int:
        """Delete one entry or everything from one room; returns how many entries went."""

    def status(self) -> dict[str, Any]:
        """Counts, sizes and backend name, for ``nanofolks memory status``."""

    def flush(self) -> None:
        """Finish queued work (called before the process exits and by tests)."""

    def close(self) -> None:
        """Flush and release files and connections."""


# ---------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RouteDecision:
    """``layer``: 1 (local classifier), 2 (LLM-assisted) or 0 (sticky: kept from the room's last turn)."""

    tier: str
    model: str
    confidence: float
    layer: int
    reason: str = ""


#: ``await ask(prompt, model=None, tier=None) -> answer``: one LLM call for layer-2 routing. The
#: router passes its cheapest tier's model and name (the call is then recorded for analytics);
#: without a model the core uses ``agents.defaults.model``.
AskLLM = Callable[..., Awaitable[str]]


@runtime_checkable
class Router(Protocol):
    """Picks the model for a turn; asked once per user message, before the bots run."""

    async def route(self, text: str, *, room: str, default_model: str | None, ask: AskLLM) -> RouteDecision | None:
        """Pick the tier and model for this message (None: routing off, use the default model)."""

    def record(self, request: LLMRequest, response: LLMResponse) -> None:
        """Account a finished call (tokens, cost) for analytics; ``request.metadata['tier']`` says which tier."""

    def close(self) -> None:
        """Release files and connections."""


# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------


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


@runtime_checkable
class Tool(Protocol):
    """The class form of a tool, built as ``cls(spec=, config=, services=)``; its name comes from the spec.

    ``run`` returns a string, or anything JSON-serialisable (sent to the model as JSON). An
    exception goes back to the model as ``error: <Type>: <message>``.
    """

    description: str
    parameters: dict[str, Any]

    async def run(self, arguments: dict[str, Any], context: ToolContext) -> Any: ...


# ---------------------------------------------------------------------------
# Room history
# ---------------------------------------------------------------------------


@runtime_checkable
class SessionStore(Protocol):
    """Storage for room history (``storage.backend`` picks one; ``file`` by default).

    Built as ``factory(spec=, config=, services=)``; a store without a config section of its own
    gets the core's ``storage`` section. It may also offer ``doctor(repair=False) -> list[Check]``.
    """

    def append(self, room: str, *messages: SessionMessage) -> int:
        """Add messages to the room's history; returns the room's new version."""
        ...

    def read(self, room: str, limit: int | None = None) -> list[SessionMessage]:
        """The room's messages, oldest first (the last ``limit`` ones when given)."""
        ...

    def version(self, room: str) -> int:
        """0 if the room never existed; grows by one per commit."""
        ...

    def rooms(self) -> list[str]:
        """Rooms that have a history."""
        ...

    def delete(self, room: str) -> None:
        """Remove a room's history."""
        ...

    def replace(self, room: str, messages: Iterable[SessionMessage], *, expected_version: int) -> int:
        """Rewrite the room's history if it is still at ``expected_version`` (compare-and-set); the new version.

        Raises ``SessionConflictError`` when another writer got there first.
        """
        ...

    def cleanup(self, room: str | None = None, *, older_than: float = ...) -> int:
        """Remove leftovers of interrupted writes older than ``older_than`` seconds; how many went."""
        ...


# ---------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------

#: ``await inbox(message)``: hands one incoming message to the crew.
Inbox = Callable[[InboundMessage], Awaitable[None]]


@runtime_checkable
class Channel(Protocol):
    """A chat channel (Telegram, Slack, ...), run by the gateway."""

    async def start(self, inbox: Inbox) -> None:
        """Connect and ``await inbox(message)`` for each incoming message.

        Returns or raises when the connection ends; the gateway then restarts it with backoff.
        """
        ...

    async def send(self, message: OutboundMessage) -> None:
        """Deliver a reply."""
        ...

    async def stop(self) -> None:
        """Disconnect; ``start`` returns soon after."""
        ...


# ---------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------


@runtime_checkable
class SecretStore(Protocol):
    """A place ``keyring:NAME`` secrets are read from and written to; stores are tried by priority."""

    def available(self) -> bool:
        """Whether the store can be used on this machine right now."""
        ...

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool:
        """True if the secret existed."""
        ...

    def names(self) -> list[str]: ...


# ---------------------------------------------------------------------------
# Skills
# ---------------------------------------------------------------------------


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


@runtime_checkable
class SkillScanner(Protocol):
    """Rates a skill folder before it loads."""

    def scan(self, path: Path) -> list[Finding]: ...


__all__ = [
    "AskLLM",
    "Channel",
    "Check",
    "Finding",
    "Inbox",
    "LLMAccess",
    "MemoryBackend",
    "MemoryEvent",
    "MemoryHit",
    "Provider",
    "RouteDecision",
    "Router",
    "SecretStore",
    "Services",
    "SessionStore",
    "SkillScanner",
    "Tool",
    "ToolContext",
]
