"""A local stand-in for Telegram's Bot API, for tests and benchmarks (standard library only).

:class:`FakeTelegramServer` is a real HTTP server on 127.0.0.1 that answers
``/bot<token>/<method>`` like ``https://api.telegram.org`` does, so python-telegram-bot (or any
client) talks to it for real: point the channel at it with ``apiBase`` = :attr:`FakeTelegramServer.url`.
A test plays the people in the chat with :meth:`~FakeTelegramServer.push_message` and reads what
the bot sent from :attr:`~FakeTelegramServer.sent` and :attr:`~FakeTelegramServer.chat_actions`::

    with FakeTelegramServer() as telegram:
        config = {"channels": {"telegram": {"enabled": True, "token": telegram.token,
                                            "apiBase": telegram.url, "allowFrom": ["42"]}}}
        ...  # start the gateway or the channel
        telegram.push_message(42, "hello crew", username="ada")
        reply = telegram.wait_for_sent(1)[0]
        assert reply["chat_id"] == 42

Methods served: ``getMe``, ``getUpdates`` (long poll with ``offset``, ``timeout``, ``limit``;
confirmed updates are forgotten, as on Telegram), ``sendMessage`` (400 for an empty text, a
text over 4096 characters counted in UTF-16 units, or an unknown chat, as Telegram answers), ``sendChatAction``,
``deleteWebhook``, ``getWebhookInfo``, ``setMyCommands``, ``close``, ``logOut``. A request with
another token gets Telegram's 401 ``Unauthorized``; an unknown method a 404.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Telegram's limit on one message's text, in characters.
MAX_MESSAGE_LENGTH = 4096

#: The longest ``getUpdates`` timeout the server honours (Telegram's own cap is 50 s).
MAX_POLL_SECONDS = 50

_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")
_MENTION = re.compile(r"(?<![\w/@])@[A-Za-z0-9_]{5,32}(?![\w@])")

_INT_PARAMS = frozenset({"offset", "limit", "timeout", "message_thread_id", "reply_to_message_id"})


class FakeTelegramServer:
    """A Bot API server on ``host:port`` (``port=0`` picks a free one) for the bot ``token``.

    ``bot_username`` and ``bot_id`` are what ``getMe`` answers. Every member is safe to use
    from the test's thread while the client talks to the server from another.
    """

    def __init__(
        self,
        token: str = "123456:TEST-fake-token",  # noqa: S107 - a made-up token for a local test server
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "nanofolks_test_bot",
        bot_id: int | None = None,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0]) if token[:1].isdigit() else 1
        self._host, self._port = host, port
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._chats: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, list[tuple[int, str, dict[str, Any] | None]]] = {}
        self._delays: dict[str, list[float]] = {}
        self._stopping = False
        self._connections: set[socket.socket] = set()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: Every call received, in order: ``{"method", "params", "time"}`` (``time.monotonic()``).
        self.requests: list[dict[str, Any]] = []
        #: Every message the bot sent: ``{"chat_id", "text", "message_id", "params", "time"}``.
        self.sent: list[dict[str, Any]] = []
        #: Every ``sendChatAction``: ``{"chat_id", "action", "time"}``.
        self.chat_actions: list[dict[str, Any]] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeTelegramServer:
        """Start serving in a background thread; returns ``self``. After :meth:`stop`, starts
        again on the same port with the same state (Telegram coming back after an outage)."""
        server = _QuietServer((self._host, self._port), _handler_for(self))
        self._server = server
        self._port = server.server_address[1]
        with self._lock:
            self._stopping = False
        self._thread = threading.Thread(target=server.serve_forever, name="fake-telegram", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release waiting long polls and stop the server."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Kept-alive connections would go on being served by their threads: close them, so a
        # stopped server is gone for the client, as a server that died would be.
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeTelegramServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._port, "start() the server first"
        return self._port

    @property
    def url(self) -> str:
        """The ``apiBase`` to configure: ``http://127.0.0.1:<port>``."""
        return f"http://{self._host}:{self.port}"

    # -- playing the people in the chat -----------------------------------------------------

    def push_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        username: str | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        is_bot: bool = False,
        chat_type: str | None = None,
        reply_to_bot: bool = False,
        mention_bot: bool = False,
        topic: int | None = None,
    ) -> dict[str, Any]:
        """A person (``user_id``) writes ``text``; the bot's next ``getUpdates`` receives it.

        ``chat_id`` defaults to ``user_id`` (the private chat with the bot); a negative id is a
        group (``chat_type`` ``"group"`` unless given). ``reply_to_bot`` makes it a reply to a
        message of the bot; ``mention_bot`` prefixes ``@<bot_username> `` with its mention
        entity (``@names`` and ``/commands`` in ``text`` get their entities as on Telegram).
        ``topic`` puts it in that topic of a forum group (a supergroup). Returns the update.
        """
        chat_id = user_id if chat_id is None else chat_id
        chat_type = chat_type or ("private" if chat_id > 0 else "supergroup" if topic else "group")
        if mention_bot:
            text = f"@{self.bot_username} {text}"
        sender: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name:
            sender["last_name"] = last_name
        if username:
            sender["username"] = username
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat.update({k: v for k, v in sender.items() if k in ("first_name", "last_name", "username")})
        else:
            chat["title"] = f"Group {chat_id}"
            if topic:
                chat["is_forum"] = True
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        if topic:
            message.update(message_thread_id=topic, is_topic_message=True)
        entities = self._entities(text)
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": self._bot_user(),
                "text": "(an earlier message of the bot)",
            }
        return self.push_update({"message": message})

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any raw update (an edited message, a photo ...); ``update_id`` is filled in."""
        with self._lock:
            update = {"update_id": next(self._update_ids), **update}
            message = update.get("message") or update.get("edited_message") or {}
            if "chat" in message:
                self._chats[message["chat"]["id"]] = message["chat"]
            self._updates.append(update)
            self._lock.notify_all()
        return update

    def fail_next(
        self, method: str, status: int, description: str, *, times: int = 1, parameters: dict[str, Any] | None = None
    ) -> None:
        """The next ``times`` calls of ``method`` get an error answer, e.g.
        ``fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")`` or
        ``fail_next("sendMessage", 429, "Too Many Requests", parameters={"retry_after": 1})``."""
        with self._lock:
            self._failures.setdefault(method, []).extend([(status, description, parameters)] * times)

    def delay_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` are answered only after ``seconds`` (a slow Telegram)."""
        with self._lock:
            self._delays.setdefault(method, []).extend([seconds] * times)

    # -- reading what the bot did -------------------------------------------------------------

    def wait_for_sent(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages were sent; return them all (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.sent) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the bot sent {len(self.sent)} message(s) in {timeout} s, expected {count}")
                self._lock.wait(left)
            return list(self.sent)

    def wait_for_request(self, method: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``method`` was called ``count`` times; return those calls."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(calls := [r for r in self.requests if r["method"] == method]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{method} was called {len(calls)} time(s) in {timeout} s, expected {count}")
                self._lock.wait(left)
            return calls

    def pending_updates(self) -> int:
        """How many updates the bot has not confirmed yet (by a getUpdates with a higher offset)."""
        with self._lock:
            return len(self._updates)

    # -- the Bot API --------------------------------------------------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Nanofolks Test", "username": self.bot_username}

    def _entities(self, text: str) -> list[dict[str, Any]]:
        """``bot_command`` and ``mention`` entities, as Telegram marks them (offsets in UTF-16 units)."""
        entities = []
        for kind, pattern in (("bot_command", _COMMAND), ("mention", _MENTION)):
            for match in pattern.finditer(text):
                offset = len(text[: match.start()].encode("utf-16-le")) // 2
                length = len(match.group().encode("utf-16-le")) // 2
                entities.append({"type": kind, "offset": offset, "length": length})
        return sorted(entities, key=lambda entity: entity["offset"])

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one call: ``(HTTP status, JSON body)``. Runs on the server's request thread."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self._lock:
            self.requests.append({"method": method, "params": params, "time": time.monotonic()})
            self._lock.notify_all()
            delays = self._delays.get(method)
            delay = delays.pop(0) if delays else 0.0
            failures = self._failures.get(method)
            if failures:
                status, description, extra = failures.pop(0)
                body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
                if extra:
                    body["parameters"] = extra
                return status, body
        if delay:
            time.sleep(delay)
        answer = getattr(self, f"_api_{method}", None)
        if answer is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        try:
            return 200, {"ok": True, "result": answer(params)}
        except _BadRequest as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}

    def _api_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        wait = max(0.0, min(float(params.get("timeout") or 0), MAX_POLL_SECONDS))
        deadline = time.monotonic() + wait
        with self._lock:
            # A call with an offset confirms every update before it: they are never sent again.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._stopping:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return self._updates[:limit]

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text") or "")
        if not text.strip():
            raise _BadRequest("message text is empty")
        if len(text.encode("utf-16-le")) // 2 > MAX_MESSAGE_LENGTH:
            raise _BadRequest("message is too long")
        chat = self._chat(params.get("chat_id"))
        with self._lock:
            message_id = next(self._message_ids)
            self.sent.append(
                {
                    "chat_id": chat["id"],
                    "text": text,
                    "message_id": message_id,
                    "params": params,
                    "time": time.monotonic(),
                }
            )
            self._lock.notify_all()
        bot = self._bot_user()
        return {"message_id": message_id, "date": int(time.time()), "chat": chat, "from": bot, "text": text}

    def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params.get("chat_id"))
        with self._lock:
            self.chat_actions.append({"chat_id": chat["id"], "action": params.get("action"), "time": time.monotonic()})
            self._lock.notify_all()
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": self.pending_updates()}

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    def _api_logOut(self, params: dict[str, Any]) -> bool:
        return True

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        try:
            key = int(chat_id)
        except (TypeError, ValueError):
            raise _BadRequest("chat not found") from None
        with self._lock:
            chat = self._chats.get(key)
        if chat is None:
            raise _BadRequest("chat not found")
        return chat


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (a long poll cancelled, a process killed) is normal here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _BadRequest(Exception):
    """A 400 answer; the message is Telegram's description after ``Bad Request: ``."""


def _parse_params(query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """Parameters from the query string and a form or JSON body, as Telegram accepts them."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        if content_type.startswith("application/json"):
            params.update(json.loads(body))
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    # Form values arrive as text; python-telegram-bot JSON-encodes lists and numbers.
    for key, value in list(params.items()):
        if key in _INT_PARAMS and isinstance(value, str) and value.lstrip("-").isdigit():
            params[key] = int(value)
        elif key == "allowed_updates" and isinstance(value, str):
            params[key] = json.loads(value)
    return params


def _handler_for(server: FakeTelegramServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as Telegram's servers: the client reuses its connections.
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
        # client's delayed ACK hold the body back ~40 ms, which would dominate any round trip.
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with server._lock:
                server._connections.add(self.connection)

        def finish(self) -> None:
            with server._lock:
                server._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def do_POST(self) -> None:
            self._answer()

        def do_GET(self) -> None:
            self._answer()

        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            segments = parts.path.strip("/").split("/")
            if len(segments) != 2 or not segments[0].startswith("bot"):
                status, answer = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            else:
                try:
                    params = _parse_params(parts.query, body, self.headers.get("Content-Type", ""))
                except (ValueError, UnicodeDecodeError):
                    status, answer = 400, {"ok": False, "error_code": 400, "description": "Bad Request: bad parameters"}
                else:
                    status, answer = server.handle(segments[0][3:], segments[1], params)
            data = json.dumps(answer).encode()
            self.send_response(status, HTTPStatus(status).phrase)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a long poll cancelled by stop)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the token is in every path: never print requests

    return Handler
