"""``nanofolks chat``: talk to the crew, one message (``-m``) or interactively.

When a gateway runs for this data folder (``nanofolks gateway``), the chat goes through it
(:mod:`nanofolks_core.cli.chat_remote`): no config, plugin or model library is loaded here, and
the output is the same as in process. Otherwise (or with ``-v``, whose pipeline log is this
process's, or ``NANOFOLKS_NO_GATEWAY=1``) the crew runs in this process.

Input policy: a ``-m`` argument and lines typed at a terminal are decoded with the terminal's
encoding, lines piped on stdin as UTF-8; either way bytes that do not decode become U+FFFD
(:mod:`nanofolks_core.text`), so nothing undecodable is stored or sent to a model.

Ctrl-C during a reply cancels that turn and returns to the prompt; at an empty prompt it
offers a fresh line, and a second Ctrl-C in a row (or Ctrl-D) leaves. A process ended by
Ctrl-C exits 130.

This module is imported on every ``chat``: the in-process path's imports stay inside it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from nanofolks_core.errors import NanofolksError, UsageError
from nanofolks_core.text import clean_text, decode_bytes, for_terminal

if TYPE_CHECKING:
    import asyncio

    from nanofolks_core.app import App
    from nanofolks_core.cli.chat_output import ReplyPrinter

HELP_TEXT = """Commands: /room NAME (switch room), /rooms, /help, /exit.
Mention bots with @leader @researcher @coder @social @creative @auditor, or @all / @crew.
Ctrl-C stops a reply; Ctrl-C twice or Ctrl-D leaves."""


class Interrupted(NanofolksError):
    """The user pressed Ctrl-C (or the process got SIGINT); the CLI exits 130."""

    exit_code = 130


# -- shared by both paths: a "session" is the crew in this process or the gateway's ---------------
#
# A session offers: ``team`` (``character(role)``), ``warnings``, ``wait_counter(enabled)``,
# ``turn(printer, text, room, stream)`` (blocking; KeyboardInterrupt when Ctrl-C cancels it),
# ``room_ids()`` and ``room_id(name)``.


def _talk(session: Any, message: str | None, room: str, stream: bool, as_json: bool) -> int:
    """Print the crew's warnings, then one message or a conversation; returns how many turns failed."""
    from nanofolks_core.cli.chat_output import ReplyPrinter

    for warning in session.warnings:
        click.echo(f"warning: {for_terminal(warning)}", err=True)
    counter = session.wait_counter(enabled=not as_json and _is_terminal(sys.stderr))
    printer = ReplyPrinter(session.team, as_json, counter)
    if message is None:
        return _conversation(session, printer, room, stream)
    try:
        session.turn(printer, message, room, stream)
    except KeyboardInterrupt:
        printer.end_stream()
        raise Interrupted("Interrupted.") from None
    return 0


def _slash_command(session: Any, line: str, room: str) -> str:
    """Run a /command; returns the room to continue in."""
    command, _, argument = line.partition(" ")
    if command == "/help":
        click.echo(HELP_TEXT)
    elif command == "/rooms":
        click.echo(for_terminal(", ".join(session.room_ids())))
    elif command == "/room":
        if argument.strip():
            room = session.room_id(argument.strip())
        click.echo(f"(room: {for_terminal(room)})")
    else:
        raise UsageError(f"unknown command {for_terminal(command)}; type /help for the list")
    return room


def _line_reader(interactive: bool) -> Callable[[str], str]:
    """A function returning the next input line (without its newline); EOFError at the end."""
    if interactive:
        try:
            import readline  # noqa: F401 - imported for its side effect: line editing and history in input()
        except ImportError:  # pragma: no cover - Windows without pyreadline
            pass
        reconfigure = getattr(sys.stdin, "reconfigure", None)
        if reconfigure is not None:
            # Undecodable bytes come through as surrogates, which clean_text turns into U+FFFD.
            reconfigure(errors="surrogateescape")
        return lambda room: clean_text(input(f"[{room}] you> "))

    def read_piped(_room: str) -> str:
        data = sys.stdin.buffer.readline()
        if not data:
            raise EOFError
        return decode_bytes(data).rstrip("\r\n")

    return read_piped


def _conversation(session: Any, printer: ReplyPrinter, room: str, stream: bool) -> int:
    """Read lines until /exit, EOF or a second Ctrl-C; returns how many turns failed."""
    interactive = sys.stdin.isatty()
    read_line = _line_reader(interactive)
    if interactive:
        leader = session.team.character("leader")
        click.echo(f"{for_terminal(leader.emoji)} {for_terminal(leader.name)}: {for_terminal(leader.greeting)}")
        click.echo(f"(room: {for_terminal(room)}; /help for commands, /exit or Ctrl-D to leave)\n")
    failures = 0
    interrupted = False
    while True:
        try:
            line = read_line(room)
        except KeyboardInterrupt:
            if not interactive or interrupted:
                raise Interrupted("Interrupted.") from None
            interrupted = True
            click.echo("\n(Ctrl-C again or Ctrl-D to leave)", err=True)
            continue
        except EOFError:
            if interactive:
                click.echo()
            break
        interrupted = False
        line = line.strip()
        if not line:
            continue
        if line in ("/exit", "/quit", "exit", "quit"):
            break
        try:
            if line.startswith("/"):
                room = _slash_command(session, line, room)
            else:
                session.turn(printer, line, room, stream)
        except KeyboardInterrupt:
            printer.cancelled()
            if not interactive:
                raise Interrupted("Interrupted.") from None
        except NanofolksError as exc:
            # One failed message (a provider hiccup, a typo in /room) must not end the session.
            printer.end_stream()
            click.echo(f"Error: {for_terminal(str(exc))}", err=True)
            if not interactive:  # a script feeding lines learns from the exit status
                failures += 1
    return failures


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# -- in process --------------------------------------------------------------------------------


class _LocalSession:
    """The crew in this process, driven by an asyncio Runner."""

    def __init__(self, runner: asyncio.Runner, app: App, crew: Any) -> None:
        self.runner, self.app, self.crew = runner, app, crew
        self.team = crew.team
        self.warnings = crew.warnings

    def wait_counter(self, enabled: bool) -> Any:
        from nanofolks_core.cli.chat_output import WaitCounter

        return WaitCounter(enabled=enabled)

    def turn(self, printer: ReplyPrinter, text: str, room: str, stream: bool) -> None:
        self.runner.run(_turn(self.crew, printer, text, room, stream))

    def room_ids(self) -> list[str]:
        return [r.id for r in self.app.rooms.list()]

    def room_id(self, name: str) -> str:
        return self.app.rooms.get(name).id


def in_process_session(data_root: Any) -> tuple[_LocalSession, Callable[[], None]]:
    """The crew in this process, for a chat whose gateway went away; and the function that closes it."""
    import asyncio

    from nanofolks_core.app import App
    from nanofolks_core.cli.interrupts import keep_sigint_on_main_thread

    keep_sigint_on_main_thread()  # before the crew starts any worker thread
    app = App(data_root=data_root)
    runner = asyncio.Runner()
    try:
        crew = runner.run(_open_crew(app))
    except BaseException:
        runner.close()
        raise

    def close() -> None:
        try:
            runner.run(crew.aclose())
        finally:
            runner.close()

    return _LocalSession(runner, app, crew), close


async def _turn(crew, printer: ReplyPrinter, text: str, room: str, stream: bool) -> None:
    from nanofolks_core.cli.chat_output import print_turn_json
    from nanofolks_core.messages import InboundMessage

    printer.counter.start(f"waiting for {_model_label(crew)}")
    try:
        result = await crew.handle(InboundMessage(text=text, room=room, channel="cli"), on_event=printer, stream=stream)
    finally:
        printer.end_stream()
    for warning in result.warnings:
        click.echo(f"warning: {for_terminal(warning)}", err=True)
    if printer.as_json:
        print_turn_json(result)


def _model_label(crew) -> str:
    try:
        return crew.default_model()
    except NanofolksError:
        return "the model"


async def _open_crew(app: App):
    from nanofolks_core.crew import Crew

    return Crew.from_app(app)


def _run(app: App, message: str | None, room: str, stream: bool, as_json: bool) -> int:
    """Run the chat; returns how many turns failed (piped input goes on after a failed line)."""
    import asyncio
    import contextlib

    from nanofolks_core.cli.interrupts import sigint_deferred

    # A Runner (not asyncio.run) so that Ctrl-C cancels only the running turn: Runner.run turns
    # SIGINT into cancelling its task and then raises KeyboardInterrupt, which we catch per turn.
    with asyncio.Runner() as runner:
        crew = runner.run(_open_crew(app))
        if message is None and sys.stdin.isatty():
            # Memory starts native threads (chromadb, numpy); opened here they leave Ctrl-C at the
            # prompt to the main thread (see cli/interrupts.py). A failure is the turn's to report.
            with sigint_deferred(), contextlib.suppress(Exception):
                crew.memory  # noqa: B018 - built for its side effect
        try:
            return _talk(_LocalSession(runner, app, crew), message, room, stream, as_json)
        finally:
            runner.run(crew.aclose())


# -- the command ---------------------------------------------------------------------------------


@click.command()
@click.option("-m", "--message", help="Send one message, print the replies and exit.")
@click.option("-r", "--room", default="general", show_default=True, help="Room to talk in.")
@click.option("--no-stream", is_flag=True, help="Print replies whole instead of streaming them.")
@click.option("--json", "as_json", is_flag=True, help="Print each turn's replies as JSON.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every pipeline step with its timing to stderr (runs in this process)."
)
@click.pass_context
def chat(ctx: click.Context, message: str | None, room: str, no_stream: bool, as_json: bool, verbose: bool) -> None:
    """Talk to your crew. With -m, send one message; without, chat interactively.

    Without a terminal, messages are read from standard input, one per line (UTF-8; bytes that
    are not valid UTF-8 become U+FFFD); the exit status is 1 if any of them failed.
    Ctrl-C stops the reply being written; Ctrl-C twice or Ctrl-D leaves.
    When `nanofolks gateway` runs for this data folder, the chat goes through it (same output,
    no start-up cost); NANOFOLKS_NO_GATEWAY=1 runs the crew in this process instead. A gateway that
    stops between two messages loses nothing: the next goes to the restarted gateway, else here.
    """
    if message is not None:
        message = clean_text(message)
        if not message.strip():
            raise UsageError("the message is empty; write something after -m")
    stream = not no_stream and not as_json
    if not verbose:
        from nanofolks_core.cli.chat_remote import open_remote_chat

        remote = open_remote_chat(room)  # checks the room, as below; None: no gateway
        if remote is not None:
            with remote:
                failures = _talk(remote, message, room, stream, as_json)
            if failures:
                ctx.exit(1)
            return
    if verbose:
        _log_to_stderr()
    failures = _chat_in_process(ctx, message, room, stream, as_json)
    if failures:
        ctx.exit(1)


def _log_to_stderr() -> None:
    import logging

    from nanofolks_core.masking import install_log_masking

    logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
    install_log_masking()  # debug lines may quote URLs with credentials or auth headers
    for noisy in ("LiteLLM", "litellm", "httpx", "httpcore", "openai", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _chat_in_process(ctx: click.Context, message: str | None, room: str, stream: bool, as_json: bool) -> int:
    from nanofolks_core.app import App
    from nanofolks_core.cli.interrupts import keep_sigint_on_main_thread

    app = ctx.ensure_object(App)
    app.rooms.get(room)  # a clear error for an unknown room before anything else
    keep_sigint_on_main_thread()  # before the crew starts any worker thread
    return _run(app, message, room, stream=stream, as_json=as_json)
