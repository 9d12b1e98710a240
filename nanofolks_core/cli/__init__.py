"""The ``nanofolks`` command line. Subcommands are imported only when used."""

from __future__ import annotations

import os
import sys

import click

from nanofolks_core import __version__
from nanofolks_core.errors import NanofolksError
from nanofolks_core.text import for_terminal

# name -> (import string, one-line help). The core's own commands; plugins add more through
# the nanofolks_register_commands hook.
CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("nanofolks_core.cli.chat_cmd:chat", "Talk to your crew (one message with -m, or interactive)."),
    "channels": ("nanofolks_core.cli.channels_cmd:channels", "List chat-app channels, their live state; log in."),
    "config": ("nanofolks_core.cli.config_cmd:config", "Show, check and locate the config file."),
    "gateway": ("nanofolks_core.cli.gateway_cmd:gateway", "Run the crew for your chat apps; `gateway status`."),
    "doctor": ("nanofolks_core.cli.doctor_cmd:doctor", "Check config, rooms, history and stores; --repair fixes."),
    "configure": ("nanofolks_core.cli.onboard_cmd:configure", "Change provider, model or team interactively."),
    "onboard": ("nanofolks_core.cli.onboard_cmd:onboard", "First-time setup: provider, model, team, workspace."),
    "plugins": ("nanofolks_core.cli.plugins_cmd:plugins", "List, inspect, enable and disable plugins."),
    "room": ("nanofolks_core.cli.room_cmd:room", "Create rooms, invite bots, show history and tasks."),
    "session": ("nanofolks_core.cli.session_cmd:session", "Show context usage of a room's session."),
    "security": ("nanofolks_core.cli.security_cmd:security", "Scan text as the model would see it; audit secret use."),
    "secrets": ("nanofolks_core.cli.secrets_cmd:secrets", "Store, list and remove credentials (keyring:NAME)."),
    "skills": ("nanofolks_core.cli.skills_cmd:skills", "List, scan, approve and revoke skills."),
    "team": ("nanofolks_core.cli.team_cmd:team", "List, show and switch team personas."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use; plugin commands come from the registry."""

    def _plugin_commands(self, ctx: click.Context) -> dict[str, object]:
        from nanofolks_core.app import App

        app = ctx.ensure_object(App)
        return {spec.name: spec for spec in app.host.registry.all("command")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(CORE_COMMANDS)
        try:
            names |= set(self._plugin_commands(ctx))
        except NanofolksError:
            pass  # a broken config must not hide the core commands from --help
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in CORE_COMMANDS:
            # A plain import (not specs.import_object, which costs attrs): `chat` through a gateway
            # must not pay for more than click and the command's own module.
            import importlib

            module, _, attribute = CORE_COMMANDS[cmd_name][0].partition(":")
            return getattr(importlib.import_module(module), attribute)
        spec = self._plugin_commands(ctx).get(cmd_name)
        if spec is None:
            return None
        command = spec.load()
        if not isinstance(command, click.Command):
            raise NanofolksError(
                f"plugin command {cmd_name!r} ({spec.factory}) is not a click command; "
                "check the plugin or disable it with `nanofolks plugins disable`"
            )
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use each command's summary without importing it.
        rows = []
        plugin_specs = {}
        try:
            plugin_specs = self._plugin_commands(ctx)
        except NanofolksError as exc:
            # Help still works with a broken config, but says why plugin commands are missing.
            click.echo(f"warning: plugin commands are not listed:\n{exc}", err=True)
        for name in self.list_commands(ctx):
            if name in CORE_COMMANDS:
                rows.append((name, CORE_COMMANDS[name][1]))
            elif name in plugin_specs:
                rows.append((name, plugin_specs[name].summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="nanofolks", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """nanofolks: your crew's already on it.

    A crew of six AI characters (Leader, Researcher, Coder, Social, Creative, Auditor)
    that talk to you from the terminal and your chat apps. Data lives in ~/.nanofolks
    (set NANOFOLKS_HOME to move it).
    """
    if ctx.invoked_subcommand == "chat":
        return  # chat builds the App itself, and only when no gateway answers for it (cli/chat_remote.py)
    from nanofolks_core.app import App

    ctx.ensure_object(App)  # plugin commands receive it with @click.pass_obj


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes and a broken environment print one message, never a traceback.

    Exit status: 0 ok, 1 error, 2 bad input, 130 interrupted (Ctrl-C).
    """
    _tolerate_unencodable_output()
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=argv, prog_name="nanofolks", standalone_mode=False)
    except NanofolksError as exc:
        if os.environ.get("NANOFOLKS_DEBUG") and exc.__cause__ is not None:
            import traceback

            traceback.print_exception(exc)  # e.g. the OSError behind a StorageError
        message = for_terminal(str(exc))
        # Ctrl-C is no error of the user's: just say it stopped.
        click.echo(message if exc.exit_code == INTERRUPTED else f"Error: {message}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("Interrupted.", err=True)
            return INTERRUPTED
        click.echo("Aborted.", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("\nInterrupted.", err=True)
        return INTERRUPTED
    except BrokenPipeError:
        _silence_closed_stdout()
        return 0
    except _environment_error_types() as exc:
        return _environment_error(exc)
    return code if isinstance(code, int) else 0


INTERRUPTED = 130


def _environment_error(exc: Exception) -> int:
    """Print a disk, permission or database failure as one line naming the file (see environment_errors)."""
    from nanofolks_core import paths
    from nanofolks_core.cli import environment_errors

    if os.environ.get("NANOFOLKS_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, OSError):
        message = environment_errors.describe_os_error(exc, paths.data_root())
    else:
        message = environment_errors.describe_sqlite_error(exc, paths.data_root())
    click.echo(f"Error: {for_terminal(message)}", err=True)
    return 1


def _environment_error_types() -> tuple[type[Exception], ...]:
    # sqlite3 is imported only by the stores that use it; if it was never imported, no error came from it.
    sqlite3 = sys.modules.get("sqlite3")
    return (OSError, sqlite3.Error) if sqlite3 is not None else (OSError,)


def _tolerate_unencodable_output() -> None:
    """Print on any terminal: characters the output encoding lacks (emoji on ASCII) become '?'."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "strict") == "strict":
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # a closed or unusual stream: leave it as it is
                pass


def _silence_closed_stdout() -> None:
    # The reader went away (`nanofolks room history | head`); without this, flushing stdout at
    # exit raises again and Python prints "Exception ignored ... BrokenPipeError".
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run() -> None:
    sys.exit(main())
