"""Run whole chat turns in a test, through the real pipeline, against a local :class:`FakeLLMServer`.

The ``chat`` fixture (see :mod:`nanofolks_core.testing.pytest_plugin`) wraps :class:`ChatDriver`.
Only the core, the stdlib test provider and the plugins the test registered are loaded, so a
plugin's tests pass with nothing else installed.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import attrs

#: The model every chat turn asks for: the test provider ``local`` serves it from the fake server.
TEST_MODEL = "local/test-model"


@attrs.frozen
class ChatReply:
    """One bot's answer in a turn: ``bot`` is its role (``leader``, ``coder`` ...), ``name`` its
    character name, ``text`` what it said, ``error`` the reason it could not answer (or None)."""

    bot: str
    name: str
    text: str
    error: str | None = None
    delegated_by: str | None = None


@attrs.frozen
class ChatTurn:
    """What one ``chat(...)`` call produced.

    ``text`` is the final answer the user sees (the last reply); ``replies`` every bot's answer in
    order; ``room`` the room it went to; ``warnings`` anything the crew warned about.
    """

    text: str
    replies: tuple[ChatReply, ...]
    room: str
    warnings: tuple[str, ...] = ()


def _merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


class ChatDriver:
    """Builds a crew from a plugin host on first use and runs messages through it.

    ``config`` is merged over ``{"agents": {"defaults": {"model": TEST_MODEL}}, "providers":
    {"local": {"apiBase": <server>}}}`` and written to ``<home>/config.json``.
    """

    def __init__(self, *, host: Any, home: Path, base_url: str) -> None:
        self.host, self.home, self.base_url = host, home, base_url
        self._crew: Any = None
        self._config: dict[str, Any] = {}
        # One loop for the whole test, as in a long-lived process: runtimes that keep async
        # clients (an httpx.AsyncClient in a provider) stay bound to the loop they were made on.
        self._loop: asyncio.AbstractEventLoop | None = None

    def configure(self, config: dict[str, Any]) -> None:
        """Merge config.json keys (nested dicts merge, other values replace) before the first message."""
        if self._crew is not None:
            raise RuntimeError("configure() must come before the first chat(...) call of the test")
        _merge(self._config, config)

    @property
    def crew(self) -> Any:
        """The crew, built on first use from everything registered so far."""
        if self._crew is None:
            from nanofolks_core.app import App
            from nanofolks_core.crew import Crew

            raw: dict[str, Any] = {
                "agents": {"defaults": {"model": TEST_MODEL}},
                "providers": {"local": {"apiBase": self.base_url}},
            }
            _merge(raw, self._config)
            (self.home / "config.json").write_text(json.dumps(raw), encoding="utf-8")
            self.host.build_registry()
            self._crew = Crew.from_app(App(host=self.host))
        return self._crew

    def __call__(self, text: str, *, room: str = "general", channel: str = "cli", sender: str = "user") -> ChatTurn:
        from nanofolks_core.api import InboundMessage

        message = InboundMessage(text=text, room=room, channel=channel, sender=sender)
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        result = self._loop.run_until_complete(self.crew.handle(message))
        replies = tuple(
            ChatReply(bot=r.bot, name=r.name, text=r.text, error=r.error, delegated_by=r.delegated_by)
            for r in result.replies
        )
        return ChatTurn(
            text=replies[-1].text if replies else "", replies=replies, room=result.room, warnings=result.warnings
        )

    def close(self) -> None:
        """Close the crew (providers, memory, stores) and the event loop; the fixture calls it."""
        loop, self._loop = self._loop or asyncio.new_event_loop(), None
        try:
            if self._crew is not None:
                loop.run_until_complete(self._crew.aclose())
                self._crew = None
        finally:
            loop.close()
