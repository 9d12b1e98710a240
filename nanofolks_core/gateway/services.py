"""Background services (``ServiceSpec``) and what they may do with the crew (``CrewAccess``).

The gateway runs every registered service's ``run(crew)`` as a task of its own next to the
channels. When ``run`` returns or raises it is started again after a wait that doubles with each
failure in a row (the channel supervisor's constants: 1 s, 2 s ... at most 60 s, back to 1 s after
a healthy minute). One service failing never touches the channels or the other services.
``GET /health`` shows each under ``services`` as ``{"state", "restarts", "lastError", "since"}``.

:class:`Activity` is the gateway's activity tracking: when a person last wrote in each room, so
background work can wait while someone is mid-conversation. :class:`InProcessCrew` is the
``CrewAccess`` CLI commands use when no gateway runs.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from typing import Any

from nanofolks_core.gateway import supervisor as channel_supervisor
from nanofolks_core.gateway.supervisor import ChannelState, describe_error
from nanofolks_core.messages import InboundMessage

log = logging.getLogger("nanofolks.gateway")

#: The channel name of turns a routine or other service starts (the work log counts them by it).
ROUTINE_CHANNEL = "routine"


class Activity:
    """When a person last wrote in each room (monotonic clock), and which rooms are answering one now."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, float] = {}
        self._answering: Counter[str] = Counter()

    @staticmethod
    def is_human(inbound: InboundMessage) -> bool:
        """Whether a turn comes from a person (not from a routine or another service)."""
        return inbound.channel != ROUTINE_CHANNEL

    def begin(self, room: str) -> None:
        self._last[room] = self.clock()
        self._answering[room] += 1

    def end(self, room: str) -> None:
        self._last[room] = self.clock()
        self._answering[room] -= 1
        if self._answering[room] <= 0:
            del self._answering[room]

    def idle_seconds(self, room: str | None = None) -> float:
        """Seconds since the last human message in ``room`` (anywhere without one); 0.0 while one is
        answered there; ``math.inf`` when there was none."""
        if room is None:
            if self._answering:
                return 0.0
            last = max(self._last.values(), default=None)
        else:
            if self._answering.get(room):
                return 0.0
            last = self._last.get(room)
        return math.inf if last is None else max(0.0, self.clock() - last)


class ServiceRunner:
    """Runs each added service's ``run(crew)`` in a task of its own, restarting it with backoff."""

    def __init__(
        self,
        crew: Any,
        *,
        backoff_initial: float | None = None,
        backoff_max: float | None = None,
        healthy_after: float | None = None,
    ) -> None:
        self.crew = crew
        # None: the channel supervisor's constants, read now (a test can shorten them for a whole gateway).
        self.backoff_initial = channel_supervisor.BACKOFF_INITIAL if backoff_initial is None else backoff_initial
        self.backoff_max = channel_supervisor.BACKOFF_MAX if backoff_max is None else backoff_max
        self.healthy_after = channel_supervisor.HEALTHY_AFTER if healthy_after is None else healthy_after
        self.services: dict[str, Any] = {}
        self.state: dict[str, ChannelState] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = False

    def add(self, name: str, service: Any) -> None:
        """A built service to run once :meth:`start` is called."""
        self.services[name] = service
        self.state[name] = ChannelState()

    def add_failed(self, name: str, reason: str) -> None:
        """A service that could not be built: shown as ``failed`` with ``reason``, never started."""
        self.state[name] = ChannelState(state="failed", last_error=reason)
        log.error("service %s failed: %s", name, reason)

    def start(self) -> None:
        """Start a supervised task for every added service."""
        loop = asyncio.get_running_loop()
        for name, service in self.services.items():
            if name not in self._tasks:
                self._tasks[name] = loop.create_task(self._supervise(name, service), name=f"service:{name}")

    def states(self) -> dict[str, dict[str, Any]]:
        """``{name: {"state", "restarts", "lastError", "since"}}`` for ``/health``."""
        return {name: state.as_json() for name, state in sorted(self.state.items())}

    async def _supervise(self, name: str, service: Any) -> None:
        state = self.state[name]
        delay = self.backoff_initial
        while not self._stopping:
            state.set("running")
            began = time.monotonic()
            try:
                await service.run(self.crew)
                error = "run() returned"
            except asyncio.CancelledError:
                break
            except Exception as exc:  # noqa: BLE001 - plugin code: whatever it raises, run it again
                error = describe_error(exc)
                log.warning("service %s raised", name, exc_info=True)
            if time.monotonic() - began >= self.healthy_after:
                delay = self.backoff_initial
            state.restarts += 1
            state.last_error = error
            state.set("backoff")
            log.warning("service %s stopped: %s; starting it again in %.0f s", name, error, delay)
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                break
            delay = min(delay * 2, self.backoff_max)
        state.set("stopped")

    async def stop(self, timeout: float = channel_supervisor.STOP_SECONDS) -> None:
        """Cancel every service (``run`` sees ``CancelledError``), then call its ``aclose()`` if it has one."""
        self._stopping = True
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("%s did not stop %.0f s after it was cancelled", task.get_name(), timeout)
        for name, service in self.services.items():
            close = getattr(service, "aclose", None)
            if callable(close):
                try:
                    await asyncio.wait_for(close(), timeout=timeout)
                except Exception as exc:  # noqa: BLE001 - one service's close must not keep the others open
                    log.warning("service %s: aclose() failed: %s", name, describe_error(exc))
            self.state[name].set("stopped")


def add_services(runner: ServiceRunner, app: Any) -> None:
    """Build every registered service into ``runner``; one that cannot be built is ``failed`` with
    its reason, the others run."""
    from nanofolks_core.errors import NanofolksError

    for spec in app.registry.all("service"):
        try:
            service = app.build(spec)
        except NanofolksError as exc:
            runner.add_failed(spec.name, str(exc))
        except Exception as exc:  # noqa: BLE001 - plugin code: one broken service, not a broken gateway
            log.debug("building service %s failed", spec.name, exc_info=True)
            runner.add_failed(spec.name, describe_error(exc))
        else:
            runner.add(spec.name, service)


def routine_message(
    text: str, *, room: str, channel: str, sender: str, metadata: dict[str, Any] | None
) -> InboundMessage:
    """The ``InboundMessage`` of a turn a service starts (``chat_id`` None: no chat to answer in)."""
    from nanofolks_core.text import clean_text

    return InboundMessage(
        text=clean_text(text), room=room, channel=channel, sender=sender, metadata=dict(metadata or {})
    )


class InProcessCrew:
    """``CrewAccess`` without a gateway (CLI commands): the crew built in this process.

    ``deliver`` reaches no chat (chat-app channels only run inside the gateway) and says so in the
    log; ``idle_seconds`` is ``math.inf`` (this process has seen no human message). Use as
    ``async with InProcessCrew(app) as crew:`` so the crew is closed (memory flushed) at the end.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._crew: Any = None

    @property
    def crew(self) -> Any:
        if self._crew is None:
            from nanofolks_core.crew import Crew

            self._crew = Crew.from_app(self.app)
        return self._crew

    @property
    def rooms(self) -> Any:
        return self.app.rooms

    async def ask(
        self,
        text: str,
        *,
        room: str = "general",
        channel: str = ROUTINE_CHANNEL,
        sender: str = "routine",
        metadata: dict[str, Any] | None = None,
    ) -> Any:
        inbound = routine_message(text, room=room, channel=channel, sender=sender, metadata=metadata)
        return await self.crew.handle(inbound)

    async def deliver(self, room: str, *texts: str, bot: str = "leader") -> int:
        chats = self.app.rooms.channels_for(room)
        if chats and texts:
            log.info("not delivered to %d chat(s) of room %s: chat apps are reached through `nanofolks gateway`",
                     len(chats), room)  # fmt: skip
        return 0

    def idle_seconds(self, room: str | None = None) -> float:
        return math.inf

    async def aclose(self) -> None:
        if self._crew is not None:
            await self._crew.aclose()

    async def __aenter__(self) -> InProcessCrew:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
