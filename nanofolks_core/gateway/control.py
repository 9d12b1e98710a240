"""The gateway's control socket: the CLI talks to the running crew through it.

A Unix socket only its owner can open (0600, in a 0700 folder), speaking the JSON lines of
:mod:`nanofolks_core.gateway.protocol`. Operations:

* ``hello`` {room?} - version, protocol, pid, the team's names/emoji/greetings, the model label
  and the crew's start-up warnings; with ``room`` also checks that room exists (as ``chat`` does
  before anything else in process). A gateway shutting down answers ``refused``;
* ``ping``;
* ``chat`` {text, room, stream} - runs one turn through ``gateway.handle`` (one writer per room),
  streaming the crew's events, then the ``result``. A client that goes away (Ctrl-C, killed) or
  sends ``cancel`` cancels its turn, which stores nothing, as Ctrl-C does in process;
* ``history`` {room, limit} - the room's messages (``limit`` 0 = all) and how many there are;
* ``rooms`` and ``room.get`` {room} - room ids (the chat's ``/rooms`` and ``/room NAME``);
* ``memory.search`` {query, limit, room?}.

Nothing a client sends can stop the gateway: a bad line gets an ``error`` line (too long a line
closes that one connection), and a failure inside an operation is that request's error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import sys
from pathlib import Path
from typing import Any

from nanofolks_core import __version__
from nanofolks_core.errors import NanofolksError, StorageError
from nanofolks_core.gateway import protocol
from nanofolks_core.text import clean_text

log = logging.getLogger("nanofolks.gateway.control")


async def start_control_server(gateway: Any, path: Path | str) -> asyncio.Server:
    """Listen on the Unix socket ``path`` for CLI clients of ``gateway``; the socket is 0600.

    ``path``'s folder is created 0700 if missing (it must belong to this user); a stale socket
    file left by a gateway that died is replaced.
    """
    path = Path(path)
    _private_folder(path.parent)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()  # a previous gateway's (the run lock says none is running now)
    # The socket is created 0600 from the start: no moment where it is wider, even inside a 0700 folder.
    previous = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(
            lambda reader, writer: _Connection(gateway, reader, writer).serve(), path=str(path), limit=protocol.MAX_LINE
        )
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    return server


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
        if info.st_uid != os.getuid():
            raise StorageError(f"{folder} belongs to another user; the gateway's socket must be in a folder of yours")
        if stat.S_IMODE(info.st_mode) & 0o077:
            folder.chmod(0o700)
    except OSError as exc:
        raise StorageError(f"cannot prepare the gateway's socket folder {folder}: {exc.strerror or exc}") from exc


class _Cancelled(Exception):
    """The client asked to stop its turn, or went away."""


class _Connection:
    """One CLI client: requests answered one at a time, in order."""

    def __init__(self, gateway: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self._next_line: asyncio.Task | None = None

    async def serve(self) -> None:
        try:
            while True:
                line = await self._read_line()
                if not line:
                    return  # the client closed the connection
                if not line.strip():
                    continue
                try:
                    request = protocol.decode(line)
                except ValueError:
                    self._send({"id": None, "type": "error", "kind": "protocol", "exit_code": 1,
                                "message": "the gateway got a line that is not a JSON request"})  # fmt: skip
                    continue
                await self._answer(request)
                await self.writer.drain()
        except ValueError:  # a line longer than MAX_LINE: nothing sensible can follow on this connection
            self._send({"id": None, "type": "error", "kind": "protocol", "exit_code": 1, "message": "line too long"})
        except (_Cancelled, ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception:  # noqa: BLE001 - one broken connection must never take the gateway down
            log.exception("control connection failed")
        finally:
            if self._next_line is not None:
                self._next_line.cancel()
            with contextlib.suppress(Exception):
                self.writer.close()
                await self.writer.wait_closed()

    async def _read_line(self) -> bytes:
        task, self._next_line = self._next_line, None
        if task is None:
            return await self.reader.readline()
        return await task

    def _send(self, message: dict[str, Any]) -> None:
        if not self.writer.is_closing():
            self.writer.write(protocol.encode(message))

    async def _answer(self, request: dict[str, Any]) -> None:
        request_id = request.get("id")
        op = request.get("op")
        try:
            if op == "chat":
                await self._chat(request_id, request)
                return
            handler = _OPERATIONS.get(op) if isinstance(op, str) else None
            if handler is None:
                raise _ProtocolError(f"unknown operation {op!r}")
            answer = await handler(self.gateway, request)
            self._send({"id": request_id, "type": "ok", **answer})
        except _Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - reported to the client; the gateway goes on
            self._send({"id": request_id, "type": "error", **_error_fields(exc, self.gateway)})

    async def _chat(self, request_id: Any, request: dict[str, Any]) -> None:
        from nanofolks_core.messages import InboundMessage

        text = clean_text(_argument(request, "text", str))
        if not text.strip():
            raise _UsageError("the message is empty; write something after -m")
        # The room's id (not what was typed) names the gateway's per-room lock; unknown rooms fail here.
        room = self.gateway.app.rooms.get(_argument(request, "room", str, "general")).id
        inbound = InboundMessage(text=text, room=room, channel="cli")

        def on_event(event: Any) -> None:
            self._send({"id": request_id, "type": "event", **protocol.event_to_wire(event)})

        turn = asyncio.create_task(
            self.gateway.handle(inbound, on_event=on_event, stream=bool(request.get("stream", False)))
        )
        # While the turn runs, keep reading: a `cancel` or the client going away stops the turn.
        while not turn.done():
            if self._next_line is None:
                self._next_line = asyncio.create_task(self.reader.readline())
            await asyncio.wait({turn, self._next_line}, return_when=asyncio.FIRST_COMPLETED)
            if turn.done() or not self._next_line.done():
                continue
            try:
                line = self._next_line.result()
            except (ValueError, ConnectionError):
                line = b""
            if line and not _is_cancel(line):
                # The client's next request (so it is still there): answered once this turn is.
                await asyncio.wait({turn})
                break
            self._next_line = None
            turn.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await turn
            if not line:
                log.info("a CLI client went away during its turn in room %s; the turn was cancelled", inbound.room)
                raise _Cancelled
            self._send({"id": request_id, "type": "error", "kind": "cancelled", "exit_code": 130,
                        "message": "Interrupted."})  # fmt: skip
            return
        if turn.cancelled():
            # A stopping gateway gave up on the turn at its drain deadline. Letting CancelledError out
            # would end this connection's task as cancelled, which asyncio logs as an error with a traceback.
            self._send({"id": request_id, "type": "error", "kind": "error", "exit_code": 1,
                        "message": f"the gateway (pid {os.getpid()}) stopped before this turn finished; nothing "
                        "of it is stored; send the message again once the gateway is back"})  # fmt: skip
            return
        result = turn.result()  # raises the turn's error, answered by _answer
        self._send({"id": request_id, "type": "result", "turn": protocol.turn_to_wire(result)})


def _is_cancel(line: bytes) -> bool:
    try:
        return protocol.decode(line).get("op") == "cancel"
    except ValueError:
        return False


class _ProtocolError(NanofolksError):
    """A request the gateway cannot read (a client of another version, or not a client at all)."""


class _UsageError(NanofolksError):
    exit_code = 2


class _Refused(NanofolksError):
    """The gateway takes no new clients (it is shutting down)."""


def _argument(request: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    value = request.get(name, default)
    if value is ... or not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise _ProtocolError(f"operation {request.get('op')!r} needs {name!r} as {kind.__name__}")
    return value


def _error_fields(exc: BaseException, gateway: Any) -> dict[str, Any]:
    """What the CLI prints (after ``Error: ``) and exits with, as the in-process path would."""
    if isinstance(exc, _ProtocolError):
        return {"kind": "protocol", "exit_code": 1, "message": str(exc)}
    from nanofolks_core.gateway.server import GatewayStopping  # loaded already: the gateway runs it

    if isinstance(exc, _Refused | GatewayStopping):
        # Nothing was done with the request: the client may send it elsewhere (a new gateway, in process).
        return {"kind": "refused", "exit_code": 1, "message": str(exc)}
    if isinstance(exc, NanofolksError):
        return {"kind": "usage" if exc.exit_code == 2 else "error", "exit_code": exc.exit_code, "message": str(exc)}
    sqlite3 = sys.modules.get("sqlite3")
    if isinstance(exc, OSError) or (sqlite3 is not None and isinstance(exc, sqlite3.Error)):
        from nanofolks_core.cli import environment_errors

        data_root = gateway.app.data_root
        if isinstance(exc, OSError):
            message = environment_errors.describe_os_error(exc, data_root)
        else:
            message = environment_errors.describe_sqlite_error(exc, data_root)
        return {"kind": "error", "exit_code": 1, "message": message}
    log.error("control request failed", exc_info=exc)
    return {
        "kind": "internal",
        "exit_code": 1,
        "message": f"the gateway failed on this request: {type(exc).__name__}: {exc} (details in the gateway's log)",
    }


# -- operations other than chat ------------------------------------------------------------


async def _hello(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    if not getattr(gateway, "accepting", True):
        # The client answers in its own process instead: the message is not lost to a shutdown.
        raise _Refused(f"the gateway (pid {os.getpid()}) is shutting down")
    crew = gateway.crew
    answer: dict[str, Any] = {
        "version": __version__,
        "protocol": protocol.PROTOCOL,
        "pid": os.getpid(),
        "team": protocol.team_to_wire(crew.team),
        "model": _model_label(crew),
        "warnings": list(crew.warnings),
    }
    if "room" in request:
        answer["room"] = gateway.app.rooms.get(_argument(request, "room", str)).id
    return answer


def _model_label(crew: Any) -> str:
    try:
        return crew.default_model()
    except NanofolksError:
        return "the model"


async def _ping(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    return {"pong": True}


async def _cancel(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    return {"cancelled": False}  # no turn is running on this connection


async def _history(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    from nanofolks_core.sessions import SessionCorruptError

    limit = _argument(request, "limit", int, 50)
    if limit < 0:
        raise _UsageError("limit must be 0 (all) or more")
    room = gateway.app.rooms.get(_argument(request, "room", str))
    try:
        everything = gateway.app.sessions.read(room.id)
    except SessionCorruptError as exc:
        raise NanofolksError(
            f"cannot read the history of room {room.id!r}: {exc}; run `nanofolks doctor --repair`"
        ) from None
    messages = everything[-limit:] if limit else everything
    return {"room": room.id, "total": len(everything), "messages": [m.to_dict() for m in messages]}


async def _rooms(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    return {"rooms": [room.id for room in gateway.app.rooms.list()]}


async def _room_get(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    return {"room": gateway.app.rooms.get(_argument(request, "room", str)).id}


async def _memory_search(gateway: Any, request: dict[str, Any]) -> dict[str, Any]:
    query = clean_text(_argument(request, "query", str))
    limit = _argument(request, "limit", int, 10)
    room = request.get("room")
    if room is not None and not isinstance(room, str):
        raise _ProtocolError("operation 'memory.search' needs 'room' as str")
    hits = gateway.crew.memory.search(query, limit=limit, room=room)
    return {
        "hits": [
            {"id": h.id, "text": h.text, "room": h.room, "ts": h.ts, "score": h.score, "kind": h.kind} for h in hits
        ]
    }


_OPERATIONS = {
    "hello": _hello,
    "ping": _ping,
    "cancel": _cancel,
    "history": _history,
    "rooms": _rooms,
    "room.get": _room_get,
    "memory.search": _memory_search,
}
