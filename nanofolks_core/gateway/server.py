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
from nanofolks_core.gateway.supervisor import describe_error
from nanofolks_core.messages import ChatMessage, InboundMessage

log = logging.getLogger("nanofolks.gateway")

#: Seconds a shutdown waits for turns in flight before giving up on them.
DRAIN_SECONDS = 30.0


def _call_warm(runtime: Any) -> None:
    """A runtime's optional ``warm()``: the slow first-use work (imports, model loads) done now."""
    warm = getattr(runtime, "warm", None)
    if callable(warm):
        warm()


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
        from nanofolks_core.gateway.services import Activity

        #: When a person last wrote in each room (``idle_seconds``); ``services``: the ServiceRunner.
        self.activity = Activity()
        self.services: Any = None

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
                provider = self.crew.llm.provider_for(model)
                self.crew.window.window_for(model)
                _call_warm(provider)  # e.g. import litellm now, not in the first message
                self.crew.llm.token_counter(model)([ChatMessage(role="user", content="warm-up")])  # the tokenizer
            except Exception as exc:  # noqa: BLE001 - reported again by the first turn that needs it
                log.warning("the model %s is not ready: %s", model, exc)
        else:
            log.warning("no model is configured (agents.defaults.model): every message will get an apology")
        try:
            _call_warm(self.crew.memory)  # e.g. load the embedding model and open the vector store
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
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        # A turn whose caller went away (a client that hung up during a shutdown) still fails
        # somewhere: say so here instead of "Task exception was never retrieved" at exit.
        if not task.cancelled() and task.exception() is not None:
            log.debug("%s ended with %s", task.get_name(), describe_error(task.exception()))

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
        human = self.activity.is_human(inbound)
        if human:
            self.activity.begin(inbound.room)
        try:
            async with self.room_lock(inbound.room):
                return await self.crew.handle(inbound, on_event=on_event, stream=stream)
        finally:
            if human:
                self.activity.end(inbound.room)

    # -- CrewAccess (what background services use) -----------------------------------------

    @property
    def rooms(self) -> Any:
        """The room store (tasks, channel mappings)."""
        return self.crew.rooms

    async def ask(
        self, text: str, *, room: str = "general", channel: str = "routine", sender: str = "routine", metadata=None
    ) -> Any:
        """A turn a service starts (see :class:`nanofolks_core.contracts.CrewAccess`), through :meth:`handle`."""
        from nanofolks_core.gateway.services import routine_message

        return await self.handle(routine_message(text, room=room, channel=channel, sender=sender, metadata=metadata))

    def idle_seconds(self, room: str | None = None) -> float:
        """Seconds since a person last wrote in ``room`` (anywhere without one); 0.0 while answering one."""
        return self.activity.idle_seconds(room)

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
            "services": self.services.states() if self.services is not None else {},
        }

    async def drain(self, timeout: float | None = None) -> list[str]:
        """Stop taking messages and wait up to ``timeout`` s (default :data:`DRAIN_SECONDS`) for the
        turns in flight; the names of those that did not finish (they are cancelled: nothing of
        them is stored) are returned."""
        timeout = DRAIN_SECONDS if timeout is None else timeout
        self.accepting = False
        pending = {task for task in self._tasks if not task.done()}
        if not pending:
            return []
        log.info("waiting up to %.0f s for %d message(s) in flight", timeout, len(pending))
        _, unfinished = await asyncio.wait(pending, timeout=timeout)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished, timeout=5)
        return sorted(task.get_name() for task in unfinished)

    async def aclose(self) -> None:
        """Close the crew (memory flushed and closed, providers closed)."""
        await self.crew.aclose()


# -- running ---------------------------------------------------------------------------------


async def _start_control(gateway: Gateway, path: Any) -> Any:
    """The thin clients' control socket, when the control module is installed (None otherwise)."""
    try:
        from nanofolks_core.gateway.control import start_control_server
    except ImportError:
        log.info("no control socket: nanofolks_core.gateway.control is not available")
        return None
    return await start_control_server(gateway, path)


async def serve(app: Any, *, port: int | None = None, stop: asyncio.Event | None = None, on_ready: Any = None) -> int:
    """Run the gateway until SIGINT/SIGTERM (or until ``stop`` is set, when given: then no
    signal handlers are installed); returns the exit status (0 after a clean stop).
    ``on_ready(gateway)`` is called once it listens and its channels are started.

    First takes the data folder's :class:`~nanofolks_core.gateway.state.GatewayLock` (held until
    it returns): a second gateway for the same folder raises ``GatewayAlreadyRunning``.
    """
    from nanofolks_core.gateway import state

    settings = app.config.gateway
    lock = state.GatewayLock(app.data_root)
    lock.acquire()
    try:
        return await _serve_locked(app, settings, port, stop, on_ready)
    finally:
        lock.release()


async def _serve_locked(app: Any, settings: Any, port: int | None, stop: Any, on_ready: Any) -> int:
    import signal

    from nanofolks_core.gateway import state
    from nanofolks_core.gateway.channel_build import add_channels
    from nanofolks_core.gateway.health import bound_port, metrics_text, start_health_server
    from nanofolks_core.gateway.inbox import ChannelInbox
    from nanofolks_core.gateway.services import ServiceRunner, add_services
    from nanofolks_core.gateway.supervisor import Supervisor

    holder: dict[str, Gateway] = {}

    def document() -> dict[str, Any]:
        if "gateway" in holder:
            return holder["gateway"].health()
        return {"status": "starting", "version": __version__, "uptime": 0, "pid": os.getpid(), "channels": {}}

    started = time.monotonic()

    def metrics() -> str:  # GET /metrics: the nanofolks_metrics hook (work log ...), Prometheus text
        return metrics_text(app.host, time.monotonic() - started)

    # Bind first: a taken port is reported before the crew is built.
    health = await start_health_server(document, settings.host, settings.port if port is None else port, metrics)
    control = None
    gateway: Gateway | None = None
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM) if stop is None else ()
    stop = stop or asyncio.Event()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    try:
        gateway = await Gateway.open(app)
        gateway.supervisor = Supervisor(
            lambda name, channel: ChannelInbox(gateway, name, channel, app.config.section(f"channels.{name}"))
        )
        add_channels(gateway.supervisor, app)
        gateway.services = ServiceRunner(gateway)
        add_services(gateway.services, app)
        holder["gateway"] = gateway
        socket_path = state.control_socket_path(app.data_root)
        control = await _start_control(gateway, socket_path)
        gateway.supervisor.start()
        gateway.services.start()
        listening = bound_port(health)
        state.write_state(
            app.data_root,
            pid=os.getpid(),
            port=listening,
            host=settings.host,
            socket=str(socket_path) if control is not None else None,
            version=__version__,
            started=gateway.started,
        )
        names = ", ".join(sorted(gateway.supervisor.state)) or "none enabled"
        log.info(
            "gateway ready: http://%s:%s/health, channels: %s (pid %d)", settings.host, listening, names, os.getpid()
        )
        if on_ready is not None:
            on_ready(gateway)
        await stop.wait()
        log.info("stopping: finishing the messages in flight")
        return 0
    finally:
        # A second signal while stopping changes nothing: the drain below is bounded anyway.
        for signum in signals:
            loop.add_signal_handler(signum, log.info, "already stopping (turns in flight get %.0f s)", DRAIN_SECONDS)
        try:
            await _shutdown(app, gateway, health, control)
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)


async def _shutdown(app: Any, gateway: Gateway | None, health: Any, control: Any) -> None:
    from nanofolks_core.gateway import state

    if control is not None:
        control.close()  # no new clients; turns already taken are drained below
        socket_path = state.control_socket_path(app.data_root)
        if socket_path.is_socket():
            socket_path.unlink(missing_ok=True)
    if gateway is not None:
        unfinished = await gateway.drain()
        if unfinished:
            log.warning(
                "gave up on %d turn(s) still running at the deadline (nothing of them is stored): %s",
                len(unfinished),
                ", ".join(unfinished),
            )
        if gateway.services is not None:
            await gateway.services.stop()
        if gateway.supervisor is not None:
            await gateway.supervisor.stop()
        try:
            await gateway.aclose()
        except Exception as exc:  # noqa: BLE001 - still remove the state file and exit
            log.warning("closing the crew failed: %s", exc)
    health.close()
    state.remove_state(app.data_root, only_if_pid=os.getpid())
    log.info("gateway stopped")


def run(app: Any, *, port: int | None = None) -> int:
    """``nanofolks gateway``: serve until a signal, clean up; returns the exit status."""
    return asyncio.run(serve(app, port=port))
