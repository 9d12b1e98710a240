"""A stand-in for the WhatsApp bridge, for tests: :class:`FakeBridge`.

It is a real websocket server on 127.0.0.1 that speaks the bridge protocol
(docs/channels/whatsapp.md) with the same token check as ``bridge/index.mjs``, so the channel
under test runs its real websocket client and JSON handling; only WhatsApp itself is missing.
Point the channel at it with ``bridgeUrl`` / ``bridgeToken``::

    from nanofolks_whatsapp.testing import FakeBridge

    with FakeBridge() as bridge:
        config = WhatsAppConfig(bridge_url=bridge.url, bridge_token=bridge.token)
        ...                                   # start the channel (or a gateway) with it
        bridge.wait_for_client()
        bridge.push_message("hello crew", sender="+1234567890")
        assert bridge.wait_for_sent(1)[0]["text"] == "..."

It runs in a thread of its own, so a test may drive it from plain code, from ``asyncio.run``
or while a ``nanofolks gateway`` subprocess is connected to it.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import secrets
import threading
import time
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

__all__ = ["FakeBridge"]


def _jid(number_or_jid: str) -> str:
    if "@" in number_or_jid:
        return number_or_jid
    return number_or_jid.lstrip("+").replace(" ", "") + "@s.whatsapp.net"


class FakeBridge:
    """A local fake of the nanofolks WhatsApp bridge.

    * ``url`` (``ws://127.0.0.1:<port>``) and ``token`` (random unless given) are what the channel
      needs; ``port`` (default 0: a free one) is where it listens.
    * ``state`` is the status sent to each client on connect (``"connected"`` by default;
      ``"qr"`` plays a bridge that is not linked).
    * ``push_message(text, sender=..., ...)``, ``push_status(state)``, ``push_qr(data)`` and
      ``push(frame)`` send frames to the connected client (kept until one connects).
    * ``sent`` lists each ``send`` command received (``{"to", "text"}``), ``typing`` each
      ``typing`` target; ``refused`` counts connections turned away for a wrong or missing token.
    * ``fail_sends(error)`` answers the following sends with an ``error`` frame.
    * ``close_clients()`` closes the connection as a bridge that goes away does.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        state: str = "connected",
        me: str = "15550001111@s.whatsapp.net",
        port: int = 0,
    ):
        self.token = token or secrets.token_urlsafe(24)
        self._requested_port = port
        self.state = state
        self.me = me
        self.sent: list[dict[str, Any]] = []
        self.typing: list[str] = []
        self.refused = 0
        self.connections = 0
        self.port: int | None = None
        self._send_error: str | None = None
        self._backlog: list[dict[str, Any]] = []
        self._clients: set[ServerConnection] = set()
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> FakeBridge:
        """Start serving (in a background thread); returns once it listens."""
        ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)), name="fake-bridge", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("FakeBridge did not start listening within 10 s")
        return self

    def stop(self) -> None:
        """Close every connection and stop serving."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeBridge:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve(self._handle, "127.0.0.1", self._requested_port, process_request=self._check) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stop.wait()
            for ws in list(self._clients):
                await ws.close(1001, "bridge stopping")

    def _check(self, connection: ServerConnection, request):
        # The real bridge's rules: no browser (Origin) connections, and the Bearer token.
        if request.headers.get("Origin"):
            return connection.respond(HTTPStatus.FORBIDDEN, "browser connections are not allowed\n")
        header = request.headers.get("Authorization", "")
        if not hmac.compare_digest(header.encode(), f"Bearer {self.token}".encode()):
            with self._changed:
                self.refused += 1
                self._changed.notify_all()
            return connection.respond(HTTPStatus.UNAUTHORIZED, "bad token\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self._clients.add(ws)
        with self._changed:
            self.connections += 1
            self._changed.notify_all()
        try:
            await ws.send(json.dumps({"type": "status", "state": self.state, "me": self.me}))
            backlog, self._backlog = self._backlog, []
            for frame in backlog:
                await ws.send(json.dumps(frame))
            async for raw in ws:
                await self._command(ws, json.loads(raw))
        finally:
            self._clients.discard(ws)

    async def _command(self, ws: ServerConnection, frame: dict[str, Any]) -> None:
        ref = frame.get("ref")
        kind = frame.get("type")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong", "ref": ref, "state": self.state}))
            return
        if kind not in ("send", "typing"):
            await ws.send(json.dumps({"type": "error", "ref": ref, "error": f"unknown command type {kind!r}"}))
            return
        if kind == "send" and self._send_error is not None:
            await ws.send(json.dumps({"type": "error", "ref": ref, "error": self._send_error}))
            return
        with self._changed:
            if kind == "send":
                self.sent.append({"to": frame.get("to"), "text": frame.get("text")})
            else:
                self.typing.append(frame.get("to"))
            self._changed.notify_all()
        answer = {"type": "sent", "id": f"FAKE{next(self._ids)}"} if kind == "send" else {"type": "typed"}
        await ws.send(json.dumps({**answer, "ref": ref, "to": frame.get("to")}))

    # -- driving it from a test -------------------------------------------------------------

    def push(self, frame: dict[str, Any]) -> None:
        """Send one raw frame to the connected client (or to the next one that connects)."""

        async def deliver() -> None:
            if not self._clients:
                self._backlog.append(frame)
            for ws in list(self._clients):
                await ws.send(json.dumps(frame))

        assert self._loop is not None, "start() the FakeBridge first"
        asyncio.run_coroutine_threadsafe(deliver(), self._loop).result(10)

    def push_message(
        self,
        text: str,
        *,
        sender: str = "+1234567890",
        chat: str | None = None,
        push_name: str = "Ada",
        message_id: str | None = None,
        from_me: bool = False,
        mentioned: bool = False,
        lid: str | None = None,
    ) -> dict[str, Any]:
        """A WhatsApp message from ``sender`` (a phone number or a jid) in ``chat`` (default: the
        direct chat with the sender); returns the frame sent."""
        jid = _jid(sender)
        frame = {
            "type": "message",
            "id": message_id or f"MSG{next(self._ids)}",
            "from": jid,
            "lid": lid,
            "chat": chat or jid,
            "text": text,
            "pushName": push_name,
            "ts": int(time.time()),
            "fromMe": from_me,
            "isGroup": (chat or "").endswith("@g.us"),
            "mentioned": mentioned,
        }
        self.push(frame)
        return frame

    def push_status(self, state: str, **extra: Any) -> None:
        """A ``status`` frame (``connected``, ``qr``, ``logged_out``, ``disconnected`` ...)."""
        self.state = state
        self.push({"type": "status", "state": state, **extra})

    def push_qr(self, data: str = "2@fake-qr-data") -> None:
        """A ``qr`` frame, as the bridge sends while it waits for the phone to scan."""
        self.push({"type": "qr", "data": data})

    def fail_sends(self, error: str | None = "WhatsApp is not connected (state: disconnected)") -> None:
        """Answer every following ``send`` with this error (None: deliver again)."""
        self._send_error = error

    def close_clients(self, code: int = 1000, reason: str = "") -> None:
        """Close the client connections, as a bridge does when it stops."""

        async def close() -> None:
            for ws in list(self._clients):
                await ws.close(code, reason)

        assert self._loop is not None, "start() the FakeBridge first"
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def _wait(self, ready, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(ready, timeout)

    def wait_for_client(self, timeout: float = 10) -> bool:
        """True once a client with the right token has connected (within ``timeout`` seconds)."""
        return self._wait(lambda: self.connections > 0 and bool(self._clients), timeout)

    def wait_for_sent(self, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """``sent`` once it holds ``count`` sends (or whatever it holds after ``timeout`` seconds)."""
        self._wait(lambda: len(self.sent) >= count, timeout)
        return list(self.sent)

    def wait_for_typing(self, count: int = 1, timeout: float = 10) -> list[str]:
        """``typing`` once it holds ``count`` targets (or whatever it holds after ``timeout``)."""
        self._wait(lambda: len(self.typing) >= count, timeout)
        return list(self.typing)
