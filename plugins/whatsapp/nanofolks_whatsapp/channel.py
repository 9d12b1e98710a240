"""The WhatsApp channel: a websocket client of the bridge (``nanofolks_whatsapp/bridge/index.mjs``).

The bridge speaks WhatsApp Web; this side speaks the bridge's small JSON protocol (documented in
docs/channels/whatsapp.md): ``message`` / ``status`` / ``qr`` frames in, ``send`` / ``typing``
commands out, each command answered by a frame carrying the same ``ref``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from nanofolks_core.api import InboundMessage, OutboundMessage
from nanofolks_whatsapp.bridge_process import BridgeError, BridgeProcess, bridge_lock, find_node, prepare_bridge
from nanofolks_whatsapp.plugin import WhatsAppConfig

#: WhatsApp accepts much longer texts; 4096 keeps a reply readable on a phone.
MESSAGE_LIMIT = 4096

#: The close code the bridge sends when the WhatsApp side ended (see bridge/index.mjs).
BRIDGE_ENDED = 4000

#: Seconds to wait for the bridge to answer a command.
COMMAND_TIMEOUT = 30

LOGIN_HINT = "run `nanofolks channels login whatsapp` and scan the QR code with your phone"


class NotLinked(BridgeError):
    """WhatsApp has no linked device for this data folder (or it was logged out)."""


def phone_from_jid(jid: str) -> str | None:
    """``"+1234567890"`` from ``"1234567890:12@s.whatsapp.net"``; None for ids that are not a
    phone number (groups, ``@lid`` ids)."""
    user, _, server = str(jid).partition("@")
    user = user.split(":", 1)[0]
    if server in ("s.whatsapp.net", "c.us") and user.isdigit():
        return f"+{user}"
    return None


def _skipped_chat(chat: str) -> bool:
    # Status updates, broadcast lists and channels ("newsletters") are not conversations.
    return chat == "status@broadcast" or chat.endswith(("@broadcast", "@newsletter"))


class WhatsAppChannel:
    """Built by the gateway as ``WhatsAppChannel(spec=, config=, services=)``.

    Without ``bridgeUrl`` it runs its own bridge: installed into ``<data_dir>/bridge`` on first
    start, logged in with the state in ``<data_dir>/auth`` (owner-only), started for the life of
    ``start()`` and stopped with it.
    """

    message_limit = MESSAGE_LIMIT

    def __init__(self, *, spec, config, services) -> None:
        self.name = spec.name
        self.config: WhatsAppConfig = config or WhatsAppConfig()
        self.services = services
        self.log = services.log
        self._ws: ClientConnection | None = None
        self._bridge: BridgeProcess | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._stopping = False

    @property
    def connected(self) -> bool:
        """True while the websocket to the bridge is open (``send`` and ``typing`` can work)."""
        return self._ws is not None

    # -- the Channel protocol ---------------------------------------------------------------

    async def start(self, inbox) -> None:
        """Connect to the bridge (starting it first unless ``bridgeUrl`` is set) and hand each
        message to ``inbox``; returns when the bridge's socket closes, raises when WhatsApp is
        not linked or the bridge reports the WhatsApp connection lost."""
        self._stopping = False
        async with self._linked(login=False) as ws, contextlib.aclosing(self._frames(ws)) as frames:
            async for frame in frames:
                await self._on_frame(frame, inbox)

    async def send(self, message: OutboundMessage) -> None:
        """Send one chunk of a reply to ``message.chat_id`` (a WhatsApp jid) as plain text."""
        if not message.chat_id:
            raise ValueError("a WhatsApp reply needs the chat_id (jid) it answers")
        await self._command({"type": "send", "to": message.chat_id, "text": message.text})

    async def typing(self, chat_id: str) -> None:
        """Show "typing…" in ``chat_id`` once (WhatsApp shows it for a few seconds)."""
        await self._command({"type": "typing", "to": chat_id})

    async def stop(self) -> None:
        """Close the bridge connection and stop the bridge this channel started; ``start`` returns."""
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        if self._bridge is not None:
            await self._bridge.terminate()

    async def login(self) -> None:
        """``nanofolks channels login whatsapp``: run the bridge in the foreground, show its QR
        code in this terminal, and return once WhatsApp reports the device linked."""
        if self.config.bridge_url:
            raise BridgeError(
                f"channels.whatsapp.bridgeUrl points at a bridge you run yourself ({self.config.bridge_url}): "
                "log in where that bridge runs (its terminal shows the QR code)"
            )
        try:
            async with self._linked(login=True) as ws, contextlib.aclosing(self._frames(ws)) as frames:
                async for frame in frames:
                    if frame.get("type") == "status" and frame.get("state") == "connected":
                        phone = phone_from_jid(str(frame.get("me") or "")) or frame.get("me") or "this number"
                        print(f"WhatsApp is linked as {phone}. Start the crew with `nanofolks gateway`.", flush=True)
                        return
                why = self._bridge.last_words() if self._bridge is not None else ""
        except ConnectionError as exc:
            why = str(exc)
        raise BridgeError(f"WhatsApp was not linked: {why or 'the bridge stopped'}; try again")

    # -- connecting -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _linked(self, *, login: bool) -> AsyncIterator[ClientConnection]:
        """The websocket to a bridge: the configured one, or one this channel starts and stops."""
        if self.config.bridge_url:
            if not self.config.bridge_token:
                raise BridgeError(
                    "channels.whatsapp.bridgeToken is not set: a bridge at bridgeUrl needs the token it was started "
                    "with (NANOFOLKS_BRIDGE_TOKEN); write it as env:NAME or keyring:NAME"
                )
            token = self.services.secret(self.config.bridge_token)
            async with self._connected(self.config.bridge_url, token) as ws:
                yield ws
            return
        data_dir = self.services.data_dir
        auth_dir = data_dir / "auth"
        if not login and not (auth_dir / "creds.json").is_file():
            raise NotLinked(f"WhatsApp is not linked yet: {LOGIN_HINT}")
        with bridge_lock(data_dir):
            node, _version = await asyncio.to_thread(find_node, self.config.node)
            script = await asyncio.to_thread(prepare_bridge, data_dir / "bridge", node, self.log)
            token = secrets.token_urlsafe(32)
            if login:
                print(
                    "Starting the WhatsApp bridge (the QR code appears in a few seconds; Ctrl-C to give up)…",
                    flush=True,
                )
            self._bridge = await BridgeProcess.spawn(
                node=node, script=script, token=token, log=self.log, auth_dir=auth_dir,
                port=self.config.bridge_port, login=login,
            )  # fmt: skip
            try:
                async with self._connected(f"ws://127.0.0.1:{self._bridge.port}", token) as ws:
                    yield ws
            finally:
                await self._bridge.terminate()
                self._bridge = None

    @contextlib.asynccontextmanager
    async def _connected(self, url: str, token: str) -> AsyncIterator[ClientConnection]:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            # proxy=None: the bridge is local; an HTTPS_PROXY in the environment must not catch it.
            ws = await connect(url, additional_headers=headers, proxy=None, open_timeout=15, max_size=1 << 20)
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            if status == 401:
                raise BridgeError(
                    f"the WhatsApp bridge at {url} refused the token (HTTP 401): check channels.whatsapp.bridgeToken"
                ) from None
            raise BridgeError(f"the WhatsApp bridge at {url} refused the connection (HTTP {status})") from None
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise ConnectionError(f"cannot reach the WhatsApp bridge at {url}: {exc}") from None
        self._ws = ws
        self.log.info("%s: connected to the bridge at %s", self.name, url)
        try:
            yield ws
        finally:
            self._ws = None
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the WhatsApp bridge connection closed"))
            self._pending.clear()
            await ws.close()

    # -- frames -----------------------------------------------------------------------------

    async def _frames(self, ws: ClientConnection) -> AsyncIterator[dict[str, Any]]:
        """The bridge's frames, until its socket closes. Answers to commands are matched to
        their ``ref`` by a reader task of their own, so a ``send`` made while ``inbox`` is still
        busy with the previous message gets its answer (no deadlock)."""
        frames: asyncio.Queue[dict[str, Any] | BaseException | None] = asyncio.Queue()

        async def read() -> None:
            try:
                async for raw in ws:
                    frame = self._parse(raw)
                    if frame is None:
                        continue
                    future = self._pending.pop(frame.get("ref"), None) if frame.get("ref") is not None else None
                    if future is not None:
                        if not future.done():
                            future.set_result(frame)
                    else:
                        frames.put_nowait(frame)
            except websockets.ConnectionClosedError as exc:
                if not self._stopping:
                    if exc.rcvd is not None and exc.rcvd.code == BRIDGE_ENDED and exc.rcvd.reason:
                        # The bridge's own goodbye when WhatsApp went away: the reason says why.
                        frames.put_nowait(ConnectionError(exc.rcvd.reason))
                    else:
                        frames.put_nowait(ConnectionError(f"the WhatsApp bridge connection broke: {exc}"))
            finally:
                frames.put_nowait(None)

        reader = asyncio.create_task(read())
        try:
            while (item := await frames.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    def _parse(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            self.log.warning("%s: skipped a bridge frame that is not a JSON object: %r", self.name, str(raw)[:80])
            return None
        return frame

    async def _on_frame(self, frame: dict[str, Any], inbox) -> None:
        kind = frame.get("type")
        if kind == "message":
            message = self._inbound(frame)
            if message is not None:
                await inbox(message)
        elif kind == "qr" or (kind == "status" and frame.get("state") == "qr"):
            raise NotLinked(f"WhatsApp is not linked (the bridge is asking for a QR code): {LOGIN_HINT}")
        elif kind == "status" and frame.get("state") == "logged_out":
            raise NotLinked(f"WhatsApp logged this device out: {LOGIN_HINT}")
        elif kind == "status" and frame.get("state") == "disconnected":
            raise ConnectionError(f"WhatsApp disconnected: {frame.get('reason') or 'no reason given'}")
        elif kind == "status":
            self.log.info("%s: bridge state %s %s", self.name, frame.get("state"), frame.get("me") or "")

    def _inbound(self, frame: dict[str, Any]) -> InboundMessage | None:
        chat = str(frame.get("chat") or "")
        text = frame.get("text")
        if frame.get("fromMe") or not chat or _skipped_chat(chat) or not isinstance(text, str) or not text:
            return None
        if chat.endswith("@g.us"):
            if self.config.groups == "off" or (self.config.groups == "mention" and not frame.get("mentioned")):
                return None
        jid = str(frame.get("from") or chat)
        phone = phone_from_jid(jid)
        aliases = [alias for alias in (jid, frame.get("lid")) if alias]
        metadata = {
            "aliases": aliases,
            "message_id": frame.get("id"),
            "sender_name": frame.get("pushName") or "",
        }
        extra = {"ts": float(frame["ts"])} if isinstance(frame.get("ts"), int | float) and frame["ts"] > 0 else {}
        return InboundMessage(
            text=text, channel=self.name, sender=phone or jid, chat_id=chat, metadata=metadata, **extra
        )

    async def _command(self, frame: dict[str, Any]) -> dict[str, Any]:
        ws = self._ws
        if ws is None:
            raise ConnectionError(f"channel {self.name} is not connected to its bridge")
        ref = next(self._refs)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = answer
        try:
            await ws.send(json.dumps({**frame, "ref": ref}))
            reply = await asyncio.wait_for(answer, COMMAND_TIMEOUT)
        finally:
            self._pending.pop(ref, None)
        if reply.get("type") == "error":
            raise BridgeError(f"WhatsApp could not {frame['type']} to {frame.get('to')}: {reply.get('error')}")
        return reply
