"""The :class:`Gateway`: one crew (providers warm, memory open), one writer per room, the channels.

Every turn, whether it comes from a channel or from a thin-client CLI over the control socket,
goes through :meth:`Gateway.handle`, which runs ``crew.handle`` under the room's ``asyncio.Lock``:
turns in one room run one after the other (in arrival order), turns in different rooms at once.
Turns run as tasks of their own that the gateway tracks, so a shutdown can let them finish.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Coroutine
from typing import Any

from nanofolks_core import __version__
from nanofolks_core.errors import NanofolksError
from nanofolks_core.messages import InboundMessage

log = logging.getLogger("nanofolks.gateway")

#: Seconds a shutdown waits for turns in flight before giving up on them.
DRAIN_SECONDS = 30.0


class GatewayStopping(NanofolksError):
    """The gateway is shutting down and takes no new messages."""


class Gateway:
    """The long-lived crew: ``app``, ``crew``, per-room locks, supervised channels, health."""

    def __init__(self, app: Any, crew: Any, *, supervisor: Any = None) -> None:
        self.app = app
        self.crew = crew
        self.supervisor = supervisor
        self.started = time.time()
        self._started_monotonic = time.monotonic()
        self.accepting = True
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    async def open(cls, app: Any, *, warm: bool = True) -> Gateway:
        """The gateway for ``app``: builds the crew, and with ``warm`` its provider and memory now,
        so the first message does not pay for them (a failure here is logged; the turn that
        needs the part reports it)."""
        from nanofolks_core.crew import Crew

        crew = Crew.from_app(app)
        for warning in crew.warnings:
            log.warning("%s", warning)
        gateway = cls(app, crew)
        if warm:
            await asyncio.to_thread(gateway._warm)
        return gateway

    def _warm(self) -> None:
        started = time.perf_counter()
        model = self.crew.config.agents.defaults.model
        if model:
            try:
                self.crew.llm.provider_for(model)
                self.crew.window.window_for(model)
            except Exception as exc:  # noqa: BLE001 - reported again by the first turn that needs it
                log.warning("the model %s is not ready: %s", model, exc)
        else:
            log.warning("no model is configured (agents.defaults.model): every message will get an apology")
        try:
            self.crew.memory  # noqa: B018 - built for its side effect
        except Exception as exc:  # noqa: BLE001 - memory is a help: turns go on without it
            log.warning("memory is unavailable: %s", exc)
        log.info("crew ready in %.2f s", time.perf_counter() - started)

    # -- turns ---------------------------------------------------------------------------

    def room_lock(self, room: str) -> asyncio.Lock:
        """The lock that makes one turn at a time write to ``room``."""
        lock = self._room_locks.get(room)
        if lock is None:
            lock = self._room_locks[room] = asyncio.Lock()
        return lock

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run ``coro`` as a task the shutdown waits for (bounded by :data:`DRAIN_SECONDS`)."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def handle(self, inbound: InboundMessage, *, on_event: Any = None, stream: bool = False) -> Any:
        """``crew.handle`` under the room's lock; returns its ``TurnResult`` and raises what it raises.

        Cancelling the caller cancels the turn (as Ctrl-C does in process: nothing is stored),
        except while the gateway shuts down, when turns already running are let finish.
        """
        if not self.accepting:
            raise GatewayStopping("the gateway is shutting down; send the message again once it is back")
        turn = self.spawn(self._locked_turn(inbound, on_event, stream), f"turn:{inbound.room}")
        try:
            return await asyncio.shield(turn)
        except asyncio.CancelledError:
            if self.accepting:
                turn.cancel()
            raise

    async def _locked_turn(self, inbound: InboundMessage, on_event: Any, stream: bool) -> Any:
        async with self.room_lock(inbound.room):
            return await self.crew.handle(inbound, on_event=on_event, stream=stream)

    async def deliver(self, room: str, *texts: str, bot: str = "leader") -> int:
        """Send ``texts`` to every channel chat mapped to ``room`` (routines use this); returns how
        many chats got them. Chats whose channel is not running are skipped with a log line."""
        if self.supervisor is None:
            return 0
        from nanofolks_core.gateway.inbox import send_texts

        sent = 0
        for channel_name, chat_id in self.crew.rooms.channels_for(room):
            channel = self.supervisor.running_channel(channel_name)
            if channel is None:
                log.info("not delivered to %s:%s (room %s): the channel is not running", channel_name, chat_id, room)
                continue
            if await send_texts(channel, channel_name, chat_id, room, bot, texts):
                sent += 1
        return sent

    # -- state -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The ``GET /health`` document."""
        return {
            "status": "ok" if self.accepting else "stopping",
            "version": __version__,
            "uptime": round(time.monotonic() - self._started_monotonic, 3),
            "pid": os.getpid(),
            "channels": self.supervisor.states() if self.supervisor is not None else {},
        }

    async def drain(self, timeout: float = DRAIN_SECONDS) -> list[str]:
        """Stop taking messages and wait up to ``timeout`` s for the turns in flight; the names of
        those that did not finish (they are cancelled: nothing of them is stored) are returned."""
        self.accepting = False
        pending = {task for task in self._tasks if not task.done()}
        if not pending:
            return []
        log.info("waiting up to %.0f s for %d message(s) in flight", timeout, len(pending))
        _, unfinished = await asyncio.wait(pending, timeout=timeout)
        for task in unfinished:
            log.warning("gave up on %s after %.0f s: it is not stored", task.get_name(), timeout)
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished, timeout=5)
        return sorted(task.get_name() for task in unfinished)

    async def aclose(self) -> None:
        """Close the crew (memory flushed and closed, providers closed)."""
        await self.crew.aclose()
