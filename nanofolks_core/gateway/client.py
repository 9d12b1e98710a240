"""The CLI's side of the control socket: find the gateway of this data folder and talk to it.

Cheap on purpose (standard library, :mod:`.state` and :mod:`.protocol` only): ``nanofolks chat``
decides "gateway or in process" with it before loading any config, plugin or model library.
:func:`connect` returns None when no gateway runs (or ``NANOFOLKS_NO_GATEWAY`` is set), and the
caller answers in process; a gateway of another protocol version raises :class:`GatewayRefused`,
which the caller treats the same way after a warning.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from nanofolks_core.errors import NanofolksError
from nanofolks_core.gateway import protocol
from nanofolks_core.gateway.state import running_gateway

#: Seconds to wait for the socket to accept us; a local socket accepts in microseconds unless hung.
CONNECT_TIMEOUT = 1.0
#: Seconds to wait for the answer to a short request (hello, history ...), not for a chat turn.
ANSWER_TIMEOUT = 10.0
#: How often a waiting chat turn wakes up to update the wait counter.
IDLE_TICK = 0.5


class GatewayRefused(Exception):
    """A gateway runs but will not talk to this CLI (another protocol version, or it did not answer)."""


class GatewayLost(NanofolksError):
    """The gateway went away in the middle of a request."""


class GatewayUnreached(GatewayLost):
    """The connection was already dead when a request was to be sent: the gateway never got it,
    so sending it again (to a new gateway, or in process) does it exactly once."""


class RemoteError(NanofolksError):
    """An error the gateway reported for a request: printed and exited with as in process."""

    def __init__(self, message: str, exit_code: int = 1, kind: str = "error") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.kind = kind


def connect(data_root: Path, *, timeout: float = CONNECT_TIMEOUT) -> GatewayClient | None:
    """A connection to the gateway running for ``data_root``, or None when there is none."""
    if os.environ.get("NANOFOLKS_NO_GATEWAY"):
        return None
    state = running_gateway(data_root)
    path = state.get("socket") if state else None
    if not isinstance(path, str):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except OSError:  # gone between the state check and now, or not ours to open: answer in process
        sock.close()
        return None
    return GatewayClient(sock, state)


class GatewayClient:
    """One connection; requests are answered one at a time, in order."""

    def __init__(self, sock: socket.socket, state: dict[str, Any]) -> None:
        self.sock = sock
        self.state = state
        self.pid = state.get("pid")
        self._buffer = b""
        self._next_id = 0

    def close(self) -> None:
        """Close the connection; a chat turn still running on it is cancelled by the gateway."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def hello(self, **arguments: Any) -> dict[str, Any]:
        """The gateway's greeting (version, team, model, warnings); :class:`GatewayRefused` when
        it speaks another protocol or does not answer in time."""
        try:
            answer = self.call("hello", protocol=protocol.PROTOCOL, **arguments)
        except RemoteError as exc:
            if exc.kind in ("protocol", "refused"):
                raise GatewayRefused(str(exc)) from None
            raise
        except (GatewayLost, TimeoutError) as exc:
            raise GatewayRefused(f"the gateway (pid {self.pid}) did not answer: {exc}") from None
        if answer.get("protocol") != protocol.PROTOCOL:
            raise GatewayRefused(
                f"the running gateway (pid {self.pid}, nanofolks {answer.get('version')}) speaks protocol "
                f"{answer.get('protocol')}, this CLI {protocol.PROTOCOL}; restart it with `nanofolks gateway`"
            )
        return answer

    def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        """Send one short request and return its ``ok`` answer (``RemoteError`` for an ``error``)."""
        deadline = time.monotonic() + ANSWER_TIMEOUT

        def give_up() -> None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no answer within {ANSWER_TIMEOUT:.0f} s")

        *_, last = self.request(op, on_idle=give_up, **arguments)
        return last

    def request(self, op: str, *, on_idle: Callable[[], None] | None = None, **arguments: Any) -> Iterator[dict]:
        """Send a request and yield every response line up to its last (``ok`` or ``result``);
        an ``error`` line raises :class:`RemoteError`. ``on_idle`` is called while nothing comes."""
        self._next_id += 1
        request_id = self._next_id
        if self._closed_by_gateway():
            raise self._unreached(None)
        try:
            self.sock.sendall(protocol.encode({"op": op, "id": request_id, **arguments}))
        except OSError as exc:
            # A peer that closed never reads what we send: an incomplete line is never acted on.
            raise self._unreached(exc) from None
        while True:
            message = protocol.decode(self._read_line(on_idle))
            if message.get("id") not in (request_id, None):
                continue  # the tail of an earlier request this client gave up on
            kind = message.get("type")
            if kind == "error":
                raise RemoteError(
                    str(message.get("message", "the gateway reported an error")),
                    exit_code=int(message.get("exit_code", 1)),
                    kind=str(message.get("kind", "error")),
                )
            yield message
            if kind in protocol.TERMINAL_TYPES:
                return

    def _read_line(self, on_idle: Callable[[], None] | None) -> bytes:
        self.sock.settimeout(IDLE_TICK)
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
                return line
            if len(self._buffer) > protocol.MAX_LINE:
                raise self._lost(ValueError("an answer longer than the protocol allows"))
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                if on_idle is not None:
                    on_idle()
                continue
            except OSError as exc:
                raise self._lost(exc) from None
            if not data:
                raise self._lost(None)
            self._buffer += data

    def _closed_by_gateway(self) -> bool:
        """Whether the gateway has closed this connection (it stopped, or died, since the last request)."""
        if self._buffer:
            return False
        try:
            self.sock.setblocking(False)
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (BlockingIOError, InterruptedError):
            return False  # open, nothing to read: the usual case
        except OSError:
            return True
        finally:
            try:
                self.sock.settimeout(IDLE_TICK)
            except OSError:
                pass

    def _unreached(self, cause: BaseException | None) -> GatewayUnreached:
        why = f" ({cause})" if cause is not None and str(cause) else ""
        return GatewayUnreached(f"the gateway (pid {self.pid}) closed the connection before this request{why}")

    def _lost(self, cause: BaseException | None) -> GatewayLost:
        why = f" ({cause})" if cause is not None and str(cause) else ""
        return GatewayLost(
            f"the gateway (pid {self.pid}) stopped before it answered{why}; nothing more from this request. "
            "See its log, and start it again with `nanofolks gateway`"
        )
