"""``nanofolks chat`` through a running gateway: the crew's session as seen over the control socket.

:func:`open_remote_chat` is called before anything heavy is imported: it reads the run folder,
connects and says hello (checking the room, as the in-process path does first). It returns a
session with the same surface as the in-process one in :mod:`.chat_cmd`, whose printer gets the
gateway's events decoded into records with the in-process attribute names, so what is printed
(stdout, warnings on stderr, ``--json``, exit codes) does not depend on where the crew runs.
"""

from __future__ import annotations

import time
from typing import Any

import click

from nanofolks_core.gateway import protocol
from nanofolks_core.gateway.client import (
    GatewayClient,
    GatewayLost,
    GatewayRefused,
    GatewayUnreached,
    RemoteError,
    connect,
)
from nanofolks_core.text import for_terminal


def open_remote_chat(room: str) -> RemoteChat | None:
    """A chat session through this data folder's gateway, or None to chat in process.

    An unknown ``room`` raises the gateway's error (as the in-process path would). A gateway
    that refuses this CLI (another version, or hung) is a warning, and None.
    """
    from nanofolks_core import paths

    data_root = paths.data_root()
    client = connect(data_root)
    if client is None:
        return None
    try:
        hello = client.hello(room=room)
    except GatewayRefused as exc:
        client.close()
        click.echo(f"warning: {for_terminal(str(exc))}; answering in this process", err=True)
        return None
    except BaseException:
        client.close()
        raise
    return RemoteChat(client, hello, data_root)


class TickingCounter:
    """The in-process wait counter's twin for a blocking socket: ``tick()`` is called while the
    client waits, and shows ``waiting for <model>… N s`` on stderr after the same delay."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._label: str | None = None
        self._started = 0.0
        self._shown = False

    def start(self, label: str) -> None:
        if self.enabled and self._label is None:
            self._label, self._started = for_terminal(label), time.monotonic()

    def tick(self) -> None:
        from nanofolks_core.cli.chat_output import PROGRESS_DELAY

        if self._label is None:
            return
        waited = time.monotonic() - self._started
        if waited >= PROGRESS_DELAY:
            click.echo(f"\r{self._label}… {int(waited)} s", nl=False, err=True)
            self._shown = True

    def stop(self) -> None:
        self._label = None
        if self._shown:
            click.echo("\r\x1b[K", nl=False, err=True)  # our own erase-line, not model text
            self._shown = False


class RemoteChat:
    """The gateway's crew, one request at a time over one connection (reopened after Ctrl-C).

    A gateway that stopped, restarted or died between two messages is no reason to lose the next
    one: a request the gateway never got (the connection was already closed, or a stopping gateway
    refused it) goes to the gateway running now, else to the crew in this process (one warning).
    Only a failure after the gateway took the message is reported as lost.
    """

    def __init__(self, client: GatewayClient, hello: dict[str, Any], data_root: Any) -> None:
        self.client: GatewayClient | None = client
        self.data_root = data_root
        self.team = protocol.WireTeam(hello["team"])
        self.warnings = tuple(hello.get("warnings", ()))
        self.model = hello.get("model") or "the model"
        self.pid = client.pid
        self.local: Any = None  # the in-process session, once the gateway is gone
        self._close_local: Any = None

    def __enter__(self) -> RemoteChat:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self._close_local is not None:
            self._close_local()

    def _client(self, room: str = "general") -> GatewayClient | None:
        """The open connection; else one to the gateway running now (hello'd); None: none runs."""
        if self.client is not None:
            return self.client
        client = connect(self.data_root)
        if client is None:
            return None
        try:
            hello = client.hello(room=room)
        except GatewayRefused:
            client.close()
            return None
        except BaseException:
            client.close()
            raise
        if client.pid != self.pid:
            click.echo(f"warning: the gateway restarted (now pid {client.pid}); going on with it", err=True)
            self.pid = client.pid
        self.model = hello.get("model") or self.model
        self.client = client
        return client

    def _forget(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _in_process(self) -> Any:
        if self.local is None:
            from nanofolks_core.cli.chat_cmd import in_process_session

            click.echo(
                f"warning: the gateway (pid {self.pid}) is no longer running; answering in this process from now on",
                err=True,
            )
            self.local, self._close_local = in_process_session(self.data_root)
        return self.local

    def wait_counter(self, enabled: bool) -> TickingCounter:
        return TickingCounter(enabled)

    def turn(self, printer: Any, text: str, room: str, stream: bool) -> None:
        """One message: the printer gets the gateway's events, then warnings and ``--json`` as in process.

        Sent exactly once: to this gateway, a new one, or the crew in this process."""
        for _attempt in range(3):  # this connection, then a gateway started since, then in process
            client = self._client(room) if self.local is None else None
            if client is None:
                self._in_process().turn(printer, text, room, stream)
                return
            try:
                self._remote_turn(client, printer, text, room, stream)
                return
            except GatewayUnreached:
                self._forget()  # never sent: send it again below
            except RemoteError as exc:
                if exc.kind != "refused":
                    raise
                self._forget()  # a stopping gateway took no new turn: send it again below
        self._in_process().turn(printer, text, room, stream)

    def _remote_turn(self, client: GatewayClient, printer: Any, text: str, room: str, stream: bool) -> None:
        from nanofolks_core.cli.chat_output import print_turn_json

        printer.counter.start(f"waiting for {self.model}")
        result = None
        try:
            for message in client.request("chat", text=text, room=room, stream=stream, on_idle=printer.counter.tick):
                if message["type"] == "event":
                    printer(protocol.event_from_wire(message))
                elif message["type"] == "result":
                    result = protocol.turn_from_wire(message["turn"])
        except (KeyboardInterrupt, GatewayLost):
            # Closing the connection is what cancels the turn in the gateway (nothing is stored).
            self._forget()
            raise
        finally:
            printer.end_stream()
        if result is None:
            raise GatewayLost("the gateway ended the turn without a result; see its log")
        for warning in result.warnings:
            click.echo(f"warning: {for_terminal(warning)}", err=True)
        if printer.as_json:
            print_turn_json(result)

    def _session_call(self, op: str, **arguments: Any) -> dict[str, Any] | None:
        """A short request to the gateway (reconnecting once); None when only this process is left."""
        for _attempt in range(2):
            client = self._client() if self.local is None else None
            if client is None:
                return None
            try:
                return client.call(op, **arguments)
            except GatewayUnreached:
                self._forget()
        return None

    def room_ids(self) -> list[str]:
        answer = self._session_call("rooms")
        return list(answer["rooms"]) if answer is not None else self._in_process().room_ids()

    def room_id(self, name: str) -> str:
        answer = self._session_call("room.get", room=name)
        return answer["room"] if answer is not None else self._in_process().room_id(name)
