"""The null memory backend. The contract is :class:`nanofolks_core.contracts.MemoryBackend`.

The pipeline calls ``record`` for every user and assistant message (cheap: a backend queues
work and does extraction/embedding in the background, never an extra LLM request per
message) and ``context`` before each bot's model call, to add what the crew remembers to
the prompt. ``config.memory.backend`` picks the backend (``auto``: the best installed one).
"""

from __future__ import annotations

from typing import Any

from nanofolks_core.contracts import MemoryBackend, MemoryEvent, MemoryHit


class NullMemory:
    """Remembers nothing: used when memory is off or no memory plugin is enabled."""

    def __init__(self, *, spec: Any = None, config: Any = None, services: Any = None) -> None:
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


__all__ = ["MemoryBackend", "MemoryEvent", "MemoryHit", "NullMemory"]
