"""``GET /metrics`` never stalls the event loop: a slow plugin is collected in a thread and cached."""

from __future__ import annotations

import asyncio
import threading
import time

from nanofolks_core.gateway.health import start_health_server


async def _get(port: int, path: str) -> tuple[str, float]:
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = (await reader.read()).decode()
    writer.close()
    return data.split("\r\n\r\n", 1)[1], time.monotonic() - started


def test_a_slow_metrics_scrape_does_not_stall_health_and_is_cached():
    calls: list[str] = []

    def slow_metrics() -> str:
        calls.append(threading.current_thread().name)
        time.sleep(0.6)  # the work log's GROUP BYs over a big table
        return f"nanofolks_scrapes {len(calls)}\n"

    async def run() -> tuple[list, float, str, float]:
        server = await start_health_server(lambda: {"status": "ok"}, "127.0.0.1", 0, slow_metrics)
        port = server.sockets[0].getsockname()[1]
        try:
            scrapes = [asyncio.create_task(_get(port, "/metrics")) for _ in range(2)]
            await asyncio.sleep(0.1)
            health, health_seconds = await _get(port, "/health")
            first = await asyncio.gather(*scrapes)
            again, again_seconds = await _get(port, "/metrics")
        finally:
            server.close()
            await server.wait_closed()
        return first, health_seconds, again, again_seconds

    first, health_seconds, again, again_seconds = asyncio.run(run())
    assert health_seconds < 0.3, f"/health waited {health_seconds:.2f}s behind a /metrics scrape"
    assert [body for body, _ in first] == ["nanofolks_scrapes 1\n"] * 2  # two scrapers, one collection
    assert again == "nanofolks_scrapes 1\n" and again_seconds < 0.3  # the cached body
    assert calls and threading.main_thread().name not in calls
