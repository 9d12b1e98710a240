"""A small real channel plugin for the gateway tests: JSON lines over TCP to a test "chat app".

Registered in process with ``register_plugin(gateway_test_channel, "testchat")``, or installed
for a ``nanofolks gateway`` subprocess as a distribution whose entry point names this module.
Two channels: ``testchat`` and ``otherchat`` (same code, own config sections).

The chat app (:class:`ChatServer`, a thread) sends ``{"text", "sender", "chat", "aliases"}``
lines; the channel writes ``{"hello": name}`` when it connects, ``{"typing": chat}`` and
``{"send": text, "bot", "chat", "room"}``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import socketserver
import threading
import time

import attrs

from nanofolks_core.api import ChannelConfig, ChannelSpec, InboundMessage, hookimpl

NANOFOLKS_API = "1.0"


@attrs.define(kw_only=True)
class TestChatConfig(ChannelConfig):
    port: int = 0
    #: start() raises ConnectionError(fail) at once: a network that is down.
    fail: str | None = None
    #: building the channel raises: a missing token.
    broken: bool = False
    message_limit: int = 4000
    #: building the channel fails to import its SDK.
    sdk_missing: bool = False
    #: the channel offers login() (for `nanofolks channels login`).
    interactive_login: bool = False


class TestChat:
    def __init__(self, *, spec, config, services):
        if config.broken:
            raise ValueError(f"no token: set channels.{spec.name}.token")
        if config.sdk_missing:
            import nanofolks_no_such_sdk  # noqa: F401
        self.name = spec.name
        self.config = config
        self.message_limit = config.message_limit
        self._writer = None
        if config.interactive_login:
            self.login = self._login

    async def _login(self):
        print(f"{self.name}: scan the code, then press enter (logged in)")

    async def start(self, inbox):
        if self.config.fail:
            raise ConnectionError(self.config.fail)
        reader, writer = await asyncio.open_connection("127.0.0.1", self.config.port)
        self._writer = writer
        self._write({"hello": self.name})
        try:
            while line := await reader.readline():
                data = json.loads(line)
                await inbox(
                    InboundMessage(
                        text=data["text"],
                        channel=self.name,
                        sender=str(data["sender"]),
                        chat_id=str(data["chat"]),
                        metadata={"aliases": data.get("aliases", []), "message_id": data.get("id")},
                    )
                )
        finally:
            self._writer = None
            writer.close()

    def _write(self, payload):
        if self._writer is None:
            raise ConnectionError(f"{self.name} is not connected")
        self._writer.write(json.dumps(payload).encode() + b"\n")

    async def send(self, message):
        self._write(
            {
                "send": message.text,
                "bot": message.bot,
                "chat": message.chat_id,
                "room": message.room,
                "reply_to": message.metadata.get("message_id"),
                "aliases_leaked": "aliases" in message.metadata,
            }
        )
        await self._writer.drain()

    async def typing(self, chat_id):
        self._write({"typing": chat_id})

    async def stop(self):
        if self._writer is not None:
            self._writer.close()


@hookimpl
def nanofolks_register_channels(register):
    for name in ("testchat", "otherchat"):
        register(
            ChannelSpec(
                name=name,
                summary=f"{name}: JSON lines over TCP (gateway tests).",
                factory="gateway_test_channel:TestChat",
                config_class=TestChatConfig,
            )
        )


class ChatServer:
    """The "chat app": a threaded TCP server the channels connect to; records what they write."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.clients: dict[str, socket.socket] = {}
        self._lock = threading.Lock()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:
                    data = json.loads(line)
                    with owner._lock:
                        if "hello" in data:
                            owner.clients[data["hello"]] = self.request
                        owner.received.append(data)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def say(self, channel: str, text: str, *, sender: str, chat: str, aliases=(), message_id=None) -> None:
        """A person writes ``text`` in ``chat``."""
        self.wait_for(lambda: channel in self.clients, f"{channel} to connect")
        said = {"text": text, "sender": sender, "chat": chat, "aliases": list(aliases), "id": message_id}
        line = json.dumps(said).encode() + b"\n"
        self.clients[channel].sendall(line)

    def drop(self, channel: str) -> None:
        """The chat app ends the channel's connection (its start() returns)."""
        self.wait_for(lambda: channel in self.clients, f"{channel} to connect")
        with self._lock:
            connection = self.clients.pop(channel)
        connection.shutdown(socket.SHUT_RDWR)

    def sent(self, chat: str | None = None) -> list[dict]:
        with self._lock:
            return [d for d in self.received if "send" in d and (chat is None or d["chat"] == chat)]

    def typing(self, chat: str) -> list[dict]:
        with self._lock:
            return [d for d in self.received if d.get("typing") == chat]

    def wait_for(self, condition, what: str, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}; received: {self.received}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
