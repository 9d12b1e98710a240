"""``GET /health``: a tiny HTTP/1.1 server on asyncio streams (no web framework to import).

It answers ``GET /health`` (and ``HEAD``) with the gateway's health JSON, ``GET /metrics`` with
the lines plugins give through the ``nanofolks_metrics`` hook (Prometheus text format), and 404
to anything else, one request per connection. A client that sends nothing for a few seconds is dropped.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nanofolks_core.errors import NanofolksError

log = logging.getLogger("nanofolks.gateway")

#: Seconds a client has to send its request line and headers.
READ_SECONDS = 5.0
#: Longest request head we read (a health probe sends a few hundred bytes).
MAX_HEAD = 16 * 1024


class PortInUse(NanofolksError):
    """The health port is taken by another program (or another gateway)."""


def _response(status: str, body: bytes, content_type: str, head_only: bool = False) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode("ascii")
    return head if head_only else head + body


#: Content type of the Prometheus text exposition format.
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Seconds one ``/metrics`` body is reused: plugins' queries (the work log's GROUP BYs over the
#: whole table) cost tenths of a second on a big log, and scrapers come every few seconds.
METRICS_CACHE_SECONDS = 5.0


class CachedMetrics:
    """``metrics()`` collected in a worker thread (so a slow plugin never stalls the event loop
    and the chats on it), reused for ``ttl`` seconds, one collection at a time however many scrape."""

    def __init__(self, metrics: Callable[[], str], ttl: float = METRICS_CACHE_SECONDS) -> None:
        self._metrics = metrics
        self._ttl = ttl
        self._text: str | None = None
        self._at = 0.0
        self._running: asyncio.Future[str] | None = None

    async def __call__(self) -> str:
        """The latest body, collecting a new one when the cached one is older than ``ttl``."""
        if self._text is not None and time.monotonic() - self._at < self._ttl:
            return self._text
        if self._running is None:
            self._running = asyncio.ensure_future(self._collect())
        # shield: a scraper hanging up must not cancel the collection others wait for.
        return await asyncio.shield(self._running)

    async def _collect(self) -> str:
        try:
            text = await asyncio.to_thread(self._metrics)
            self._text, self._at = text, time.monotonic()
            return text
        finally:
            self._running = None


async def _serve(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    document: Callable[[], dict],
    metrics: Callable[[], Awaitable[str]] | None = None,
) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_SECONDS)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
        writer.close()
        return
    try:
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    except ValueError:
        method, target = "", ""
    path = target.split("?", 1)[0]
    if method in ("GET", "HEAD") and path in ("/health", "/health/"):
        body = json.dumps(document(), ensure_ascii=False).encode("utf-8") + b"\n"
        data = _response("200 OK", body, "application/json", head_only=method == "HEAD")
    elif method in ("GET", "HEAD") and path in ("/metrics", "/metrics/") and metrics is not None:
        data = _response("200 OK", (await metrics()).encode("utf-8"), METRICS_TYPE, head_only=method == "HEAD")
    else:
        data = _response("404 Not Found", b'{"error": "not found; try GET /health"}\n', "application/json")
    try:
        writer.write(data)
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def start_health_server(
    document: Callable[[], dict[str, Any]], host: str, port: int, metrics: Callable[[], str] | None = None
) -> asyncio.Server:
    """Serve ``document()`` as ``GET /health`` on ``host:port`` (0: a free port), and ``metrics()``
    (Prometheus text) as ``GET /metrics`` when given: collected in a worker thread, so ``metrics``
    must be thread-safe, and reused for :data:`METRICS_CACHE_SECONDS`.

    A port already in use raises :class:`PortInUse` with one line naming the port and how to
    choose another.
    """

    cached = CachedMetrics(metrics) if metrics is not None else None

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve(reader, writer, document, cached)
        except Exception:  # noqa: BLE001 - one bad request never stops the health server
            log.debug("health request failed", exc_info=True)
            writer.close()

    try:
        return await asyncio.start_server(serve, host, port, limit=MAX_HEAD)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is already in use (another gateway or program?); "
                "choose another with `nanofolks gateway --port PORT` or gateway.port in config.json"
            ) from None
        # An address not on this machine, a privileged port, a host name that does not resolve.
        raise NanofolksError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; check gateway.host and gateway.port "
            "in config.json (or use --port)"
        ) from None


def metrics_text(host: Any, uptime: float) -> str:
    """The ``/metrics`` body: the gateway's own gauges, then each plugin's ``nanofolks_metrics`` lines.

    A plugin answering something other than a list of strings is left out (with a comment line),
    so one plugin cannot make the whole scrape unreadable.
    """
    lines = [
        "# HELP nanofolks_gateway_up 1 while the gateway serves.",
        "# TYPE nanofolks_gateway_up gauge",
        "nanofolks_gateway_up 1",
        "# HELP nanofolks_gateway_uptime_seconds Seconds since the gateway started.",
        "# TYPE nanofolks_gateway_uptime_seconds gauge",
        f"nanofolks_gateway_uptime_seconds {uptime:.3f}",
    ]
    for result in host.collect("nanofolks_metrics"):
        if isinstance(result, list | tuple) and all(isinstance(line, str) for line in result):
            lines.extend(line.rstrip("\n") for line in result)
        else:
            lines.append(f"# a nanofolks_metrics result was not a list of lines ({type(result).__name__}): skipped")
    return "\n".join(lines) + "\n"


def bound_port(server: asyncio.Server) -> int:
    """The port the server actually listens on (the one picked when 0 was asked)."""
    return server.sockets[0].getsockname()[1]
