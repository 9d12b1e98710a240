"""Every runtime contract in one place: the protocols plugin runtimes implement and the records they share.

Every runtime is built one way, by the core, from the spec a plugin registered::

    runtime = factory(spec=spec, config=<its own validated config section, or None>, services=services)

``factory`` is what ``spec.factory`` names: a class, or a function returning the runtime.
(Function-form tools are the one exception: see :mod:`nanofolks_core.tools`.)
Plugins import all of this from :mod:`nanofolks_core.api`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

# The records the protocols take and return live in their own module; they are re-exported here so
# this stays the one module to read (and import) for the runtime contracts.
from nanofolks_core.contract_records import (
    Check,
    Finding,
    MemoryEvent,
    MemoryHit,
    RouteDecision,
    Services,
    ToolContext,
)
from nanofolks_core.messages import InboundMessage, LLMRequest, LLMResponse, OutboundMessage

if TYPE_CHECKING:
    from nanofolks_core.sessions.message import SessionMessage

# ---------------------------------------------------------------------------
# Model access (``Services.llm``)
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


# ---------------------------------------------------------------------------
# Providers
# ---------------------------------------------------------------------------


@runtime_checkable
class Provider(Protocol):
    """An LLM provider runtime. Optional extras: ``context_window(model) -> int | None``,
    ``count_tokens(model, messages) -> int`` and ``warm()`` (do slow first-use work such as heavy
    imports now; ``nanofolks gateway`` calls it at start-up, in a thread).
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


@runtime_checkable
class MemoryBackend(Protocol):
    """What a memory backend does. The pipeline calls ``record`` for every user and assistant
    message and ``context`` before each bot's model call. Optional: ``warm()`` (load models and
    open stores now; ``nanofolks gateway`` calls it at start-up, in a thread, so the first message
    does not wait for them).
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
    """A chat channel (Telegram, Slack, ...), run by the gateway (see docs/writing-a-channel.md).

    Optional members the gateway uses when present (duck-typed, not part of this protocol):

    - ``message_limit: int`` - the platform's characters per message; the gateway splits each
      reply to it, so ``send`` gets one piece at a time (default 4000).
    - ``async typing(chat_id)`` - show "typing..." once; repeated every ~4 s while the crew works.
    - ``async login()`` - an interactive login for ``nanofolks channels login NAME``.

    Incoming messages carry ``metadata["aliases"]`` (usernames, phone numbers ... that
    ``allowFrom`` may name besides ``sender``), ``"message_id"`` and ``"sender_name"``; the
    gateway checks ``allowFrom`` and picks the room, so a channel sets neither.
    """

    async def start(self, inbox: Inbox) -> None:
        """Connect and ``await inbox(message)`` for each incoming message (``inbox`` returns once
        the gateway has taken it; the replies come later through ``send``).

        Returns or raises when the connection ends; the gateway then restarts it with backoff.
        """
        ...

    async def send(self, message: OutboundMessage) -> None:
        """Deliver one reply piece as plain text (attributed and split already); raise when it
        cannot be delivered (the gateway logs it)."""
        ...

    async def stop(self) -> None:
        """Disconnect; ``start`` returns soon after."""
        ...


# ---------------------------------------------------------------------------
# Background services (run by the gateway)
# ---------------------------------------------------------------------------


@runtime_checkable
class CrewAccess(Protocol):
    """What a background service (``ServiceSpec``) may do with the crew.

    Implemented by the running gateway, and in process for CLI commands when no gateway runs.
    """

    #: The room store (``nanofolks_core`` ``RoomStore``): rooms, their tasks and channel mappings.
    rooms: Any

    async def ask(
        self,
        text: str,
        *,
        room: str = "general",
        channel: str = "routine",
        sender: str = "routine",
        metadata: dict[str, Any] | None = None,
    ) -> Any:
        """Send ``text`` through the whole pipeline in ``room`` (one turn at a time per room) and
        return its ``TurnResult`` (``.replies``: each bot's answer). The turn is stored in the room's
        history like any other; ``metadata`` (e.g. ``{"routine": name, "task": id}``) travels on the
        ``InboundMessage`` so the work log and metrics can tell routine runs from the user's messages.
        """
        ...

    async def deliver(self, room: str, *texts: str, bot: str = "leader") -> int:
        """Send ``texts`` to every chat-app chat mapped to ``room``; returns how many chats got them."""
        ...

    def idle_seconds(self, room: str | None = None) -> float:
        """Seconds since the last human message in ``room`` (or anywhere, without one); ``0.0`` while one
        is being answered, ``math.inf`` when there was none since the process started."""
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


@runtime_checkable
class SkillScanner(Protocol):
    """Rates a skill folder before it loads."""

    def scan(self, path: Path) -> list[Finding]: ...


__all__ = [
    "AskLLM",
    "Channel",
    "Check",
    "CrewAccess",
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
