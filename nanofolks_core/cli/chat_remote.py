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
from nanofolks_core.gateway.client import GatewayClient, GatewayLost, GatewayRefused, connect
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
    """The gateway's crew, one request at a time over one connection (reopened after Ctrl-C)."""

    def __init__(self, client: GatewayClient, hello: dict[str, Any], data_root: Any) -> None:
        self.client: GatewayClient | None = client
        self.data_root = data_root
        self.team = protocol.WireTeam(hello["team"])
        self.warnings = tuple(hello.get("warnings", ()))
        self.model = hello.get("model") or "the model"

    def __enter__(self) -> RemoteChat:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()

    def _client(self) -> GatewayClient:
        if self.client is None:  # closed after a Ctrl-C (which cancelled that turn in the gateway)
            self.client = connect(self.data_root)
            if self.client is None:
                raise GatewayLost("the gateway is no longer running; start it with `nanofolks gateway`")
        return self.client

    def wait_counter(self, enabled: bool) -> TickingCounter:
        return TickingCounter(enabled)

    def turn(self, printer: Any, text: str, room: str, stream: bool) -> None:
        """One message: the printer gets the gateway's events, then warnings and ``--json`` as in process."""
        from nanofolks_core.cli.chat_output import print_turn_json

        client = self._client()
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
            client.close()
            self.client = None
            raise
        finally:
            printer.end_stream()
        if result is None:
            raise GatewayLost("the gateway ended the turn without a result; see its log")
        for warning in result.warnings:
            click.echo(f"warning: {for_terminal(warning)}", err=True)
        if printer.as_json:
            print_turn_json(result)

    def room_ids(self) -> list[str]:
        return list(self._client().call("rooms")["rooms"])

    def room_id(self, name: str) -> str:
        return self._client().call("room.get", room=name)["room"]
