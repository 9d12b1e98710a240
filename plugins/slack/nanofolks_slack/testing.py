"""A local stand-in for Slack, for tests and benchmarks: the Web API and a Socket Mode websocket.

:class:`FakeSlackServer` listens on 127.0.0.1 (a free port) in a background thread, so it serves
synchronous tests, asyncio tests and a ``nanofolks gateway`` subprocess alike::

    from nanofolks_slack.testing import FakeSlackServer

    with FakeSlackServer() as slack:                   # tokens "xoxb-test" / "xapp-test"
        config = {"channels": {"slack": {"enabled": True, "allowFrom": ["U0001"],
                  "botToken": slack.bot_token, "appToken": slack.app_token,
                  "apiBase": slack.api_base}}}
        ...start the channel or the gateway...
        slack.wait_connected()
        slack.send_message("hello crew", user="U0001")   # a DM, delivered as a Socket Mode envelope
        [reply] = slack.wait_posted(1)                   # what chat.postMessage received
        assert reply["channel"] == "D0001"

Web API methods served (at ``{api_base}/<method>``): ``auth.test``, ``apps.connections.open``
(answers a ``ws://127.0.0.1:<port>/link/`` URL), ``chat.postMessage``, ``users.info``. A wrong
token gets ``{"ok": false, "error": "invalid_auth"}`` as Slack answers. The websocket greets with
``hello``, delivers pushed events as ``events_api`` envelopes and records every acknowledgement.
Events pushed while no client is connected wait and are delivered on the next connection.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

from aiohttp import WSMsgType, web


class FakeSlackServer:
    """Slack's Web API + Socket Mode on 127.0.0.1, driven by a test.

    ``users`` maps user ids to names for ``users.info``, or to user fields laid over the defaults
    (``{"name": "eve", "display_name": "Ada", "team_id": "TOTHER", "is_stranger": True}``); with
    ``users_read=False`` that method answers ``missing_scope`` as for a bot without the
    ``users:read`` scope. ``socket_url`` replaces the websocket URL ``apps.connections.open``
    answers (an unreachable one, say). Read what the bot did from :attr:`posted`, :attr:`acks`
    and :attr:`calls` (copies, safe from any thread).
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",  # noqa: S107 (a fake server's own test tokens)
        app_token: str = "xapp-test",  # noqa: S107
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        users: dict[str, str | dict[str, Any]] | None = None,
        users_read: bool = True,
        socket_url: str | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.users = dict(users if users is not None else {"U0001": "ada", "U0002": "mallory"})
        self.users_read = users_read
        self.socket_url = socket_url
        self.port = 0
        self._posted: list[dict[str, Any]] = []
        self._acks: list[str] = []
        self._calls: list[str] = []
        self._pending: list[str] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._connections = 0
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> FakeSlackServer:
        """Start listening; returns self once the port is bound."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fake-slack", daemon=True)
        self._thread.start()
        if not ready.wait(10) or not self.port:
            raise RuntimeError("the fake Slack server did not start")
        return self

    def stop(self) -> None:
        """Close every connection and stop the server thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeSlackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        """What to put in ``channels.slack.apiBase``."""
        return f"http://127.0.0.1:{self.port}/api"

    # -- what the bot did ----------------------------------------------------------------------

    @property
    def posted(self) -> list[dict[str, Any]]:
        """Each ``chat.postMessage`` received: ``channel``, ``text``, ``thread_ts``, ``mrkdwn``, ``ts``."""
        with self._changed:
            return [dict(p) for p in self._posted]

    @property
    def acks(self) -> list[str]:
        """Envelope ids the client acknowledged, in order."""
        with self._changed:
            return list(self._acks)

    @property
    def calls(self) -> list[str]:
        """Web API method names called, in order."""
        with self._changed:
            return list(self._calls)

    @property
    def connections(self) -> int:
        """How many Socket Mode connections were opened so far."""
        with self._changed:
            return self._connections

    def wait_connected(self, count: int = 1, timeout: float = 10) -> None:
        """Wait until ``count`` Socket Mode connections have been opened in all."""
        self._wait(lambda: self._connections >= count and bool(self._sockets), timeout, f"{count} connection(s)")

    def wait_ack(self, envelope_id: str, timeout: float = 10) -> None:
        """Wait until the client acknowledged ``envelope_id``."""
        self._wait(lambda: envelope_id in self._acks, timeout, f"the ack of {envelope_id}")

    def wait_posted(self, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait for ``count`` posted messages in all; returns them all."""
        self._wait(lambda: len(self._posted) >= count, timeout, f"{count} posted message(s)")
        return self.posted

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f"fake Slack: no {what} within {timeout} s (posted: {self._posted})")

    # -- what people do ------------------------------------------------------------------------

    def send_event(self, event: dict[str, Any]) -> str:
        """Deliver one Events API ``event`` over Socket Mode; returns the envelope id."""
        number = next(self._ids)
        envelope_id = f"env-{number}"
        envelope = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
            "payload": {
                "token": "verification-token",
                "team_id": self.team_id,
                "api_app_id": "A0001",
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{number:06d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": self.team_id, "user_id": self.bot_user_id, "is_bot": True}],
            },
        }
        self._call(self._deliver(json.dumps(envelope)))
        return envelope_id

    def send_message(
        self,
        text: str,
        *,
        user: str = "U0001",
        channel: str = "D0001",
        channel_type: str = "im",
        thread_ts: str | None = None,
        mention: bool = False,
        **extra: Any,
    ) -> list[str]:
        """A person writes ``text``; returns the envelope ids delivered.

        ``mention=True`` writes ``<@bot> text`` and delivers it twice, as a ``message`` and an
        ``app_mention`` event with the same ``ts``, as Slack does for a mention in a channel the
        bot is in. ``extra`` goes into the event (``subtype``, ``bot_id`` ...).
        """
        ts = f"{time.time():.6f}"
        # Slack escapes these three in the text it delivers.
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if mention:
            text = f"<@{self.bot_user_id}> {text}"
        event = {"type": "message", "channel": channel, "channel_type": channel_type, "user": user, "text": text}
        event |= {"ts": ts, "event_ts": ts, "team": self.team_id, **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        ids = [self.send_event(event)]
        if mention:
            mention_event = {k: v for k, v in event.items() if k != "channel_type"} | {"type": "app_mention"}
            ids.append(self.send_event(mention_event))
        return ids

    def request_refresh(self) -> None:
        """Send a ``disconnect`` envelope (``refresh_requested``), as Slack does every few hours:
        the client is expected to open a new connection and close the old one by itself."""
        message = {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake-slack"}}
        self._call(self._deliver(json.dumps(message)))

    def drop_connections(self) -> None:
        """Close every Socket Mode connection (as a network drop or a Slack restart would)."""
        self._call(self._close_sockets())

    # -- the server ----------------------------------------------------------------------------

    def _call(self, coroutine: Any) -> Any:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the fake Slack server is not running; call start() first")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        await self._close_sockets()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _close_sockets(self) -> None:
        for ws in list(self._sockets):
            await ws.close()

    async def _deliver(self, text: str) -> None:
        if not self._sockets:
            self._pending.append(text)
            return
        await self._sockets[-1].send_str(text)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0001"}}))
        with self._changed:
            self._sockets.append(ws)
            self._connections += 1
            pending, self._pending = self._pending, []
            self._changed.notify_all()
        for text in pending:
            await ws.send_str(text)
        try:
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    continue
                envelope_id = json.loads(frame.data).get("envelope_id")
                if envelope_id:
                    with self._changed:
                        self._acks.append(envelope_id)
                        self._changed.notify_all()
        finally:
            with self._changed:
                self._sockets.remove(ws)
                self._changed.notify_all()
        return ws

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params |= await request.json()
        elif request.method == "POST":
            params |= dict(await request.post())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or params.get("token", "")
        with self._changed:
            self._calls.append(method)
        return web.json_response(self._answer(method, token, params))

    def _answer(self, method: str, token: str, params: dict[str, Any]) -> dict[str, Any]:
        if token not in (self.bot_token, self.app_token):
            return {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        if method == "apps.connections.open":
            if token != self.app_token:
                return {"ok": False, "error": "not_allowed_token_type"}
            url = self.socket_url or f"ws://127.0.0.1:{self.port}/link/?ticket={next(self._ids)}"
            return {"ok": True, "url": url}
        if token != self.bot_token:
            return {"ok": False, "error": "not_allowed_token_type"}
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": "nanofolks",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
            }
        if method == "chat.postMessage":
            if not params.get("channel"):
                return {"ok": False, "error": "channel_not_found"}
            if not str(params.get("text", "")).strip():
                return {"ok": False, "error": "no_text"}
            ts = f"{time.time():.6f}"
            post = {k: params.get(k) for k in ("channel", "text", "thread_ts", "mrkdwn")} | {"ts": ts}
            with self._changed:
                self._posted.append(post)
                self._changed.notify_all()
            return {"ok": True, "channel": params["channel"], "ts": ts, "message": {"text": params["text"]}}
        if method == "users.info":
            if not self.users_read:
                return {"ok": False, "error": "missing_scope", "needed": "users:read"}
            user = params.get("user", "")
            if user not in self.users:
                return {"ok": False, "error": "user_not_found"}
            fields = self.users[user] if isinstance(self.users[user], dict) else {"name": self.users[user]}
            name = fields["name"]
            display = fields.get("display_name", name.title())
            real = fields.get("real_name", name.title())
            found = {"id": user, "team_id": self.team_id, "name": name, "real_name": real}
            found |= {k: v for k, v in fields.items() if k not in ("display_name", "real_name")}
            return {"ok": True, "user": found | {"profile": {"display_name": display, "real_name": real}}}
        return {"ok": False, "error": "unknown_method"}
