"""A local stand-in for Discord, for tests: REST API + websocket gateway on 127.0.0.1.

The real discord.py talks to it when the channel's ``apiBase`` is the server's ``api_base``::

    from nanofolks_discord.testing import FakeDiscordServer

    with FakeDiscordServer(token="test-token") as discord_server:
        config = {"channels": {"discord": {"enabled": True, "token": "test-token",
                                           "apiBase": discord_server.api_base, "allowFrom": ["42"]}}}
        ...  # start the gateway or the channel
        discord_server.wait_until_connected()
        discord_server.push_message("hello crew", author_id=42, channel_id=7)
        reply = discord_server.wait_for_sent(1)[0]   # {"channel_id": "7", "content": ..., ...}

What it speaks (enough for discord.py 2.x, JSON encoding, no compression):

* REST under ``/api/v10`` (``/api/v9`` too), ``Authorization: Bot <token>`` checked (401
  otherwise): ``GET /users/@me``, ``GET /oauth2/applications/@me``, ``GET /gateway/bot``,
  ``POST /channels/{id}/messages`` (recorded in :attr:`sent`), ``POST /channels/{id}/typing``
  (recorded in :attr:`typing`). Anything else is a 404, recorded in :attr:`unhandled`.
* The gateway at ``/gateway``: HELLO (op 10) on connect; HEARTBEAT (op 1) -> ACK (op 11);
  IDENTIFY (op 2) -> the READY dispatch (the bot user, no guilds), or close code 4004 for a
  wrong token, or 4014 when ``privileged_intents=False`` and a privileged intent is asked
  for; RESUME (op 6) -> INVALID_SESSION (op 9, not resumable), so the client identifies again.
  discord.py asks for ``compress=zlib-stream`` in the URL; the server sends plain text frames,
  which discord.py reads as they are.
* Faults: :meth:`close_gateway` (a close code of your choice), ``accept_gateway = False`` (the
  websocket handshake fails: a network that is gone), ``privileged_intents=False``.

The server runs its own event loop in a background thread, so a synchronous test (one that
runs ``nanofolks gateway`` as a subprocess) and an asyncio test can both use it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

#: Intents Discord only grants when switched on in the developer portal (members, presences, content).
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)

_API_PREFIXES = ("/api/v10", "/api/v9")


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json
    # (as Discord sends it); aiohttp's json_response would add "; charset=utf-8".
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _now() -> str:
    return datetime.now(UTC).isoformat()


class FakeDiscordServer:
    """Discord's REST API and websocket gateway, as far as a bot channel uses them.

    ``token`` is the only bot token accepted; ``bot_id``/``bot_name`` describe the bot user;
    ``privileged_intents=False`` plays an app whose Message Content Intent is not enabled;
    ``heartbeat_interval`` is in seconds (discord.py heartbeats at that pace).
    """

    def __init__(
        self,
        *,
        token: str = "test-token",  # noqa: S107 - the fake server's own made-up token
        bot_id: int = 900000000000000001,
        bot_name: str = "crew",
        host: str = "127.0.0.1",
        port: int = 0,
        privileged_intents: bool = True,
        heartbeat_interval: float = 41.25,
    ):
        self.token = token
        self.bot_user = {
            "id": str(bot_id),
            "username": bot_name,
            "discriminator": "0",
            "global_name": bot_name,
            "avatar": None,
            "bot": True,
            "flags": 0,
        }
        self.host = host
        self.port = port
        self.privileged_intents = privileged_intents
        self.heartbeat_interval = heartbeat_interval
        #: False plays Discord's gateway being unreachable: the websocket handshake gets HTTP 503.
        self.accept_gateway = True
        #: Every message posted: ``{"channel_id": str, **the JSON body discord.py sent}``.
        self.sent: list[dict[str, Any]] = []
        #: Channel ids that got a typing indicator, in order.
        self.typing: list[str] = []
        #: ``(method, path)`` of every REST request, in order.
        self.requests: list[tuple[str, str]] = []
        #: ``(method, path)`` of REST requests this server does not know (answered 404).
        self.unhandled: list[tuple[str, str]] = []
        #: IDENTIFY payloads received (``d`` of op 2), and the query of every gateway connection.
        self.identifies: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        #: The close code of every gateway connection that ended (1000: the client closed it
        #: cleanly; 1006 or None: the connection just dropped), in order.
        self.closes: list[int | None] = []
        self._ids = itertools.count(1100000000000000000)
        self._sessions: list[web.WebSocketResponse] = []
        self._sequence: dict[int, int] = {}
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; the same as :attr:`api_base`."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``channels.discord.apiBase``."""
        return self.url

    @property
    def gateway_url(self) -> str:
        """The websocket gateway, as ``GET /gateway/bot`` names it."""
        return f"ws://{self.host}:{self.port}/gateway"

    def start(self) -> FakeDiscordServer:
        """Start listening (in a background thread); returns once the port is bound."""
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except OSError as exc:  # the port is taken or the host unknown: start() re-raises it
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-discord", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every gateway connection and stop the server."""
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeDiscordServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what a test does -------------------------------------------------------------------

    def push_message(
        self,
        content: str,
        *,
        author_id: int | str = 100000000000000042,
        author_name: str = "ada",
        channel_id: int | str = 200000000000000007,
        guild_id: int | str | None = None,
        bot: bool = False,
        mentions: list[dict[str, Any]] | tuple = (),
        mention_everyone: bool = False,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Dispatch MESSAGE_CREATE to every identified client; returns the message payload.

        Without ``guild_id`` it is a direct message; with it, a message in a server channel.
        ``mentions`` are user objects (``server.bot_user`` to @mention the bot; put
        ``<@id>`` in ``content`` too, as Discord does). Waits up to ``timeout`` seconds for a
        client to be connected and raises ``TimeoutError`` if none is.
        """
        self.wait_until_connected(timeout)
        author = {
            "id": str(author_id),
            "username": author_name,
            "discriminator": "0",
            "global_name": author_name.title(),
            "avatar": None,
        }
        if bot:
            author["bot"] = True
        message = self._message(str(channel_id), author, content)
        message["mentions"] = list(mentions)
        message["mention_everyone"] = mention_everyone
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
            message["member"] = {"roles": [], "joined_at": _now(), "deaf": False, "mute": False, "flags": 0}
        self._call(self._dispatch_all("MESSAGE_CREATE", message))
        return message

    def close_gateway(self, code: int = 1000) -> None:
        """Close every gateway connection with ``code`` (the network dropping, Discord restarting).

        discord.py reconnects at once after a resumable code (1000, 4000 ...) and gives up after
        4004 (authentication failed), 4014 (disallowed intents) and the like; set
        ``accept_gateway = False`` first to make its reconnect fail as well.
        """
        self._call(self._close_all(code))

    def wait_until_connected(self, timeout: float = 5.0) -> None:
        """Wait until a client has identified on the gateway (READY sent)."""
        self._wait(lambda: self._sessions, timeout, "no discord client connected to the fake gateway")

    def wait_until_disconnected(self, timeout: float = 5.0) -> None:
        """Wait until no client is connected to the gateway (the server saw the close)."""
        self._wait(lambda: not self._sessions, timeout, "a discord client is still connected to the fake gateway")

    def wait_for_sent(self, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages were posted; returns them all."""
        self._wait(lambda: len(self.sent) >= count, timeout, f"fewer than {count} messages were posted")
        return list(self.sent)

    def wait_for_typing(self, count: int = 1, timeout: float = 5.0) -> list[str]:
        """Wait until at least ``count`` typing indicators were sent; returns their channel ids."""
        self._wait(lambda: len(self.typing) >= count, timeout, f"fewer than {count} typing calls")
        return list(self.typing)

    @property
    def connected(self) -> int:
        """How many clients are identified on the gateway right now."""
        return len(self._sessions)

    # -- internals --------------------------------------------------------------------------

    def _wait(self, ready, timeout: float, failure: str) -> None:
        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(failure)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _call(self, coroutine) -> Any:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("FakeDiscordServer is not running: call start() first")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def _message(self, channel_id: str, author: dict[str, Any], content: str) -> dict[str, Any]:
        return {
            "id": str(next(self._ids)),
            "type": 0,
            "channel_id": channel_id,
            "author": author,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        await self._close_all(1001)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _close_all(self, code: int) -> None:
        for ws in list(self._sessions):
            await ws.close(code=code)
        self._sessions.clear()
        self._notify()

    async def _dispatch_all(self, event: str, data: dict[str, Any]) -> None:
        for ws in list(self._sessions):
            await self._dispatch(ws, event, data)

    async def _dispatch(self, ws: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        sequence = self._sequence[id(ws)] = self._sequence.get(id(ws), 0) + 1
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": sequence, "d": data}))

    # REST ------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        for prefix in _API_PREFIXES:
            if path.startswith(prefix + "/"):
                path = path[len(prefix) :]
                break
        else:
            return self._not_found(request.method, request.path)
        self.requests.append((request.method, path))
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, status=401)
        parts = path.strip("/").split("/")
        if request.method == "GET" and path == "/users/@me":
            return _json(self.bot_user)
        if request.method == "GET" and path == "/oauth2/applications/@me":
            return _json(self._application())
        if request.method == "GET" and path == "/gateway/bot":
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})
        if request.method == "POST" and len(parts) == 3 and parts[0] == "channels" and parts[2] == "messages":
            body = await request.json()
            self.sent.append({"channel_id": parts[1], **body})
            self._notify()
            message = self._message(parts[1], self.bot_user, body.get("content", ""))
            return _json(message)
        if request.method == "POST" and len(parts) == 3 and parts[0] == "channels" and parts[2] == "typing":
            self.typing.append(parts[1])
            self._notify()
            return web.Response(status=204)
        return self._not_found(request.method, path)

    def _not_found(self, method: str, path: str) -> web.Response:
        self.unhandled.append((method, path))
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.bot_user["id"],
            "name": self.bot_user["username"],
            "description": "",
            "icon": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": {"id": "100000000000000001", "username": "owner", "discriminator": "0", "avatar": None},
            "verify_key": "0" * 64,
            "flags": 0,
        }

    # gateway ---------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if not self.accept_gateway:
            return web.Response(status=503, text="gateway unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}}))
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(frame.data)
                await self._on_gateway_payload(ws, payload)
        finally:
            self.closes.append(ws.close_code)
            if ws in self._sessions:
                self._sessions.remove(ws)
            self._notify()
        return ws

    async def _on_gateway_payload(self, ws: web.WebSocketResponse, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:  # HEARTBEAT
            await ws.send_str(json.dumps({"op": 11}))
        elif op == 2:  # IDENTIFY
            self.identifies.append(data)
            if data.get("token") != self.token:
                await ws.close(code=4004, message=b"Authentication failed.")
            elif not self.privileged_intents and data.get("intents", 0) & PRIVILEGED_INTENTS:
                await ws.close(code=4014, message=b"Disallowed intent(s).")
            else:
                ready = {
                    "v": 10,
                    "user": self.bot_user,
                    "guilds": [],
                    "session_id": f"session-{len(self.identifies)}",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": self.bot_user["id"], "flags": 0},
                }
                await self._dispatch(ws, "READY", ready)
                self._sessions.append(ws)
                self._notify()
        elif op == 6:  # RESUME: sessions are not kept, so the client must identify again
            await ws.send_str(json.dumps({"op": 9, "d": False}))
