"""The memory contract: what a ``MemoryBackendSpec.factory`` must return, and the null backend.

The pipeline calls ``record`` for every user and assistant message (cheap: a backend queues
work and does extraction/embedding in the background, never an extra LLM request per
message) and ``context`` before each bot's model call, to add what the crew remembers to
the prompt. ``config.memory.backend`` picks the backend (``auto``: the best installed one).
"""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

import attrs


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
    """Built by ``factory(spec=..., config=<memory.<name> section or None>, data_root=Path)``."""

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


class NullMemory:
    """Remembers nothing: used when memory is off or no memory plugin is enabled."""

    def __init__(self, *, spec: Any = None, config: Any = None, data_root: Any = None) -> None:
        pass

    def record(self, event: MemoryEvent) -> None:
        return None

    async def context(self, query: str, *, room: str, bot: str, budget_tokens: int) -> str:
        return ""

    def search(self, query: str, *, limit: int = 10, room: str | None = None) -> list[MemoryHit]:
        return []

    def forget(self, *, entry_id: str | None = None, room: str | None = None) -> int:
        return 0

    def status(self) -> dict[str, Any]:
        return {"backend": "null", "entries": 0, "note": "memory is off or no memory plugin is enabled"}

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None
