"""Channels as supervised asyncio tasks: each runs ``start(inbox)`` again after it returns or
raises, waiting longer after each failure in a row (1 s, 2 s, 4 s ... at most 60 s) and starting
from 1 s again once a run stayed up for a healthy minute. One channel failing never touches the
others: each has its own task, and everything one raises stays inside that task.

States (``GET /health`` shows them): ``starting`` (start is about to be called), ``running``,
``backoff`` (waiting to start again after it ended), ``failed`` (the channel could not even be
built: missing token, SDK not installed; it is not retried), ``stopped``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import attrs

log = logging.getLogger("nanofolks.gateway")

#: First wait after a channel's start ended; doubled for each failure in a row.
BACKOFF_INITIAL = 1.0
#: Longest wait between two starts.
BACKOFF_MAX = 60.0
#: A run that lasted this long resets the wait to BACKOFF_INITIAL.
HEALTHY_AFTER = 60.0
#: Seconds ``stop()`` waits for a channel's stop and for its start to return.
STOP_SECONDS = 10.0


@attrs.define
class ChannelState:
    """What ``/health`` shows of one channel."""

    state: str = "starting"
    restarts: int = 0
    last_error: str | None = None
    since: float = attrs.field(factory=time.time)

    def set(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.since = time.time()

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "lastError": self.last_error,
            "since": round(self.since, 3),
        }


def describe_error(exc: BaseException) -> str:
    """One line for an exception (its type and the first line of its message), with credentials
    masked: it is shown by ``/health`` and logged, and an SDK's error may quote a URL with a token."""
    from nanofolks_core.masking import mask_secrets
    from nanofolks_core.security.boundary import mask_text

    try:
        text = str(exc).strip()
    except Exception:  # noqa: BLE001 - an exception whose message cannot be read
        text = ""
    message = mask_text(mask_secrets(text.splitlines()[0])) if text else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class Supervisor:
    """Runs every channel's ``start(inbox)`` in a task of its own and restarts it with backoff.

    ``make_inbox(name, channel)`` returns the inbox callable handed to that channel's start.
    """

    def __init__(
        self,
        make_inbox: Callable[[str, Any], Callable[..., Any]],
        *,
        backoff_initial: float | None = None,
        backoff_max: float | None = None,
        healthy_after: float | None = None,
    ) -> None:
        self.make_inbox = make_inbox
        # None: the module's constants, read now (so a test can shorten them for a whole gateway).
        self.backoff_initial = BACKOFF_INITIAL if backoff_initial is None else backoff_initial
        self.backoff_max = BACKOFF_MAX if backoff_max is None else backoff_max
        self.healthy_after = HEALTHY_AFTER if healthy_after is None else healthy_after
        self.channels: dict[str, Any] = {}
        self.state: dict[str, ChannelState] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._stopping = False
        self._wake = asyncio.Event()

    def add(self, name: str, channel: Any) -> None:
        """A built channel to run once :meth:`start` is called."""
        self.channels[name] = channel
        self.state[name] = ChannelState()

    def add_failed(self, name: str, reason: str) -> None:
        """A channel that could not be built: shown as ``failed`` with ``reason``, never started."""
        self.state[name] = ChannelState(state="failed", last_error=reason)
        log.error("channel %s failed: %s", name, reason)

    def start(self) -> None:
        """Start a supervised task for every added channel."""
        for name, channel in self.channels.items():
            if name not in self._tasks:
                self._tasks[name] = asyncio.get_running_loop().create_task(
                    self._supervise(name, channel), name=f"channel:{name}"
                )

    def states(self) -> dict[str, dict[str, Any]]:
        """``{name: {"state", "restarts", "lastError", "since"}}`` for ``/health``."""
        return {name: state.as_json() for name, state in sorted(self.state.items())}

    def running_channel(self, name: str) -> Any | None:
        """The channel object when it is running, else None."""
        state = self.state.get(name)
        return self.channels.get(name) if state is not None and state.state == "running" else None

    async def _supervise(self, name: str, channel: Any) -> None:
        state = self.state[name]
        delay = self.backoff_initial
        inbox = self.make_inbox(name, channel)
        while not self._stopping:
            state.set("running")
            began = time.monotonic()
            try:
                await channel.start(inbox)
                error = "start() returned (the connection ended)"
            except asyncio.CancelledError:
                if self._stopping:
                    break
                raise
            except Exception as exc:  # noqa: BLE001 - plugin code: whatever it raises, restart it
                error = describe_error(exc)
                log.debug("channel %s raised", name, exc_info=True)
            if self._stopping:
                break
            if time.monotonic() - began >= self.healthy_after:
                delay = self.backoff_initial  # it ran a healthy while: this is a fresh failure
            state.restarts += 1
            state.last_error = error
            state.set("backoff")
            log.warning("channel %s stopped: %s; starting it again in %.0f s", name, error, delay)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, self.backoff_max)
        state.set("stopped")

    async def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Call every channel's ``stop()``, wait for its ``start`` to return (bounded), then
        cancel what is still running. A channel whose stop raises is logged, the rest go on."""
        self._stopping = True
        self._wake.set()  # ends any backoff wait at once

        async def stop_one(name: str, channel: Any) -> None:
            try:
                await asyncio.wait_for(channel.stop(), timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - one channel's stop must not keep the others running
                log.warning("channel %s: stop() failed: %s", name, describe_error(exc))

        await asyncio.gather(*(stop_one(name, channel) for name, channel in self.channels.items()))
        tasks = [task for task in self._tasks.values() if not task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("%s did not return %.0f s after stop(); cancelled", task.get_name(), timeout)
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2)
        for name in self.channels:
            self.state[name].set("stopped")
