"""The supervisor's restart policy, timed on a channel whose start fails on purpose."""

from __future__ import annotations

import asyncio
import time

from nanofolks_core.gateway.supervisor import Supervisor


class Flaky:
    """start() fails ``fail`` times, then stays up ``up`` seconds and fails again, forever."""

    def __init__(self, fail: int, up: float = 0.0) -> None:
        self.fail, self.up = fail, up
        self.calls: list[float] = []
        self.stopped = asyncio.Event()

    async def start(self, inbox):
        self.calls.append(time.monotonic())
        if len(self.calls) > self.fail and self.up:
            try:
                await asyncio.wait_for(self.stopped.wait(), self.up)
            except TimeoutError:
                pass
            return
        raise OSError(f"network is down (attempt {len(self.calls)})")

    async def send(self, message):
        pass

    async def stop(self):
        self.stopped.set()


async def _run(channel, seconds, **policy):
    supervisor = Supervisor(lambda name, channel: None, **policy)
    supervisor.add("flaky", channel)
    supervisor.start()
    await asyncio.sleep(seconds)
    states = supervisor.states()
    await supervisor.stop()
    return supervisor, states


def test_waits_double_up_to_the_cap_and_the_state_says_why():
    channel = Flaky(fail=100)
    supervisor, states = asyncio.run(_run(channel, 1.0, backoff_initial=0.05, backoff_max=0.2, healthy_after=60))
    gaps = [b - a for a, b in zip(channel.calls, channel.calls[1:], strict=False)]
    assert len(gaps) >= 4
    for gap, expected in zip(gaps, [0.05, 0.1, 0.2, 0.2], strict=False):
        assert expected * 0.9 <= gap < expected + 0.3  # upper bound loose: a busy machine sleeps long
    assert states["flaky"]["state"] == "backoff"
    assert states["flaky"]["restarts"] == len(channel.calls)
    assert states["flaky"]["lastError"].startswith("OSError: network is down")
    assert supervisor.states()["flaky"]["state"] == "stopped"


def test_a_healthy_run_resets_the_wait():
    channel = Flaky(fail=4, up=0.3)
    asyncio.run(_run(channel, 1.8, backoff_initial=0.05, backoff_max=5.0, healthy_after=0.25))
    gaps = [b - a for a, b in zip(channel.calls, channel.calls[1:], strict=False)]
    assert 0.35 <= gaps[3] < 0.6  # the 4th failure waited 0.4 s
    # then a 0.3 s healthy run ended: the wait is 0.05 s again (0.8 s without the reset)
    assert 0.3 <= gaps[4] < 0.6


def test_stop_ends_a_backoff_wait_at_once_and_a_channel_that_ignores_stop_is_cancelled():
    class Stubborn:
        async def start(self, inbox):
            await asyncio.sleep(3600)

        async def send(self, message):
            pass

        async def stop(self):
            pass  # does not make start return

    async def main():
        supervisor = Supervisor(lambda name, channel: None, backoff_initial=30)
        supervisor.add("flaky", Flaky(fail=100))
        supervisor.add("stubborn", Stubborn())
        supervisor.start()
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await supervisor.stop(timeout=0.3)
        return time.monotonic() - started, supervisor.states()

    took, states = asyncio.run(main())
    assert took < 2
    assert {name: s["state"] for name, s in states.items()} == {"flaky": "stopped", "stubborn": "stopped"}


def test_the_error_shown_in_health_has_credentials_masked():
    from nanofolks_core.gateway.supervisor import describe_error

    shown = describe_error(OSError("cannot reach https://bot:s3cr3t-pass@chat.example/api?token=abc123\nmore"))
    assert shown == "OSError: cannot reach https://bot:***@chat.example/api?token=***"
