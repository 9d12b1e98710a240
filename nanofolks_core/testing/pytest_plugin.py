"""pytest fixtures for nanofolks and its plugin authors (loaded through the ``pytest11`` entry point).

Installing nanofolks is enough: every test session gets these fixtures, and ``pytest --fixtures``
prints each one's docstring. docs/testing-your-plugin.md shows them at work.

* ``nanofolks_home`` - a fresh, empty data root (``NANOFOLKS_HOME``) for the test.
* ``plugin_host`` - a plugin manager with entry-point autoload off and strict errors.
* ``register_plugin`` - register a plugin module/object on ``plugin_host``, get the registry back.
* ``llm_server`` - a local OpenAI-compatible server on 127.0.0.1 with scripted replies.
* ``chat`` - run a whole chat turn through the real pipeline against ``llm_server``.
* ``tool_context`` / ``plugin_services`` - what the core hands a tool / a runtime, for unit tests.
* ``cli_runner`` - run ``nanofolks ...`` in-process: ``result = cli_runner(["plugins", "list"])``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def nanofolks_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty nanofolks data folder; ``NANOFOLKS_HOME`` points at it for this test.

    Returns its ``Path``. Write a ``config.json`` into it to configure the crew. The
    ``NANOFOLKS_DISABLE_PLUGINS``/``NANOFOLKS_LOAD_PLUGINS`` variables are cleared for the test.
    """
    home = tmp_path / "nanofolks-home"
    home.mkdir()
    monkeypatch.setenv("NANOFOLKS_HOME", str(home))
    for name in ("NANOFOLKS_DISABLE_PLUGINS", "NANOFOLKS_LOAD_PLUGINS", "NANOFOLKS_USE_CAS_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def plugin_host():
    """A plugin host that loads nothing by itself (no entry points) and re-raises plugin errors.

    ``plugin_host.pm`` is the pluggy manager: call a hook with
    ``plugin_host.pm.hook.nanofolks_before_llm_call(request=...)`` (a list of the results);
    ``plugin_host.registry`` is the registry after ``register_plugin``.
    """
    from nanofolks_core.plugins import PluginHost

    return PluginHost(strict=True, trace=False)


@pytest.fixture
def register_plugin(plugin_host) -> Iterator[Callable[..., Any]]:
    """``register_plugin(module_or_object, name=None) -> registry``: add a plugin to ``plugin_host``.

    ``name`` is the plugin's entry-point name (default: the module's ``__name__``). The registry
    is rebuilt and returned: ``registry.get("tool", "word_count")`` is the spec your hook
    registered, ``registry.owner(kind, name)`` the plugin that did. Unregistered after the test.
    """
    registered: list[str] = []

    def register(plugin: object, name: str | None = None):
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        plugin_host.register_module(plugin, plugin_name)
        registered.append(plugin_name)
        return plugin_host.build_registry()

    yield register
    for plugin_name in registered:
        plugin_host.unregister(plugin_name)


@pytest.fixture
def llm_server():
    """A running :class:`~nanofolks_core.testing.llm_server.FakeLLMServer` on 127.0.0.1 (a free port).

    OpenAI-compatible. ``llm_server.base_url`` is the ``.../v1`` URL for clients;
    ``push("text", Reply(tool_calls=[ToolCall(...)]))`` scripts the next answers (first in,
    first out); ``handler = fn(request) -> str | Reply | None`` answers when the script is empty;
    ``fail_next(status, times=1)`` makes requests fail; ``requests`` lists every request body
    received. Unscripted requests get ``"[<model>] <last user message>"``. Stopped after the test.
    """
    from nanofolks_core.testing.llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def chat(nanofolks_home: Path, plugin_host, llm_server):
    """``chat(text, room="general") -> ChatTurn``: one whole chat turn through the real pipeline.

    The crew is built on the first call from the core, the stdlib test provider (model
    ``local/test-model``, served by ``llm_server``) and every plugin you registered with
    ``register_plugin`` before that call. ``turn.text`` is the answer the user sees,
    ``turn.replies`` each bot's :class:`~nanofolks_core.testing.chat.ChatReply`. Script the model
    with ``llm_server.push(...)`` and inspect what it was sent in ``llm_server.requests``.
    ``chat.configure({"section": {...}})`` sets config.json sections before the first call.
    """
    from nanofolks_core.builtins import core
    from nanofolks_core.testing import provider
    from nanofolks_core.testing.chat import ChatDriver

    for module, name in ((core, "core"), (provider, "test-provider")):
        if plugin_host.pm.get_plugin(name) is None:
            plugin_host.register_module(module, name)
    driver = ChatDriver(host=plugin_host, home=nanofolks_home, base_url=llm_server.base_url)
    yield driver
    driver.close()


@pytest.fixture
def plugin_services(nanofolks_home: Path):
    """``plugin_services(plugin="test", llm=None, secrets=None) -> Services``, as the core builds them.

    ``data_root`` is ``nanofolks_home``; ``data_dir`` is ``<home>/plugins/<plugin>``; ``secrets``
    (a dict) answers ``keyring:NAME`` lookups; ``llm`` is whatever you pass (an object with
    ``async complete(request)`` and ``async ask(prompt)``). Use it to build a runtime in a unit
    test: ``MyChannel(spec=spec, config=MyConfig(), services=plugin_services("my-plugin"))``.
    """
    from nanofolks_core.api import Services

    def make(plugin: str = "test", *, llm: Any = None, secrets: dict[str, str] | None = None):
        lookup = dict(secrets or {})
        return Services(plugin=plugin, data_root=nanofolks_home, llm=llm, secret_lookup=lookup.get)

    return make


@pytest.fixture
def tool_context(nanofolks_home: Path, plugin_services):
    """``tool_context(room="general", bot="leader", plugin="test") -> ToolContext`` for calling a tool.

    The ``workspace`` (``<home>/workspace``) exists, as it does when the crew runs a tool;
    ``services`` comes from ``plugin_services(plugin)``. Call a function-form tool with it
    (``my_tool("text", context)``) or a class-form one (``await tool.run({...}, context)``).
    """
    from nanofolks_core.api import ToolContext

    def make(room: str = "general", bot: str = "leader", plugin: str = "test"):
        workspace = nanofolks_home / "workspace"
        workspace.mkdir(exist_ok=True)
        return ToolContext(room=room, bot=bot, workspace=workspace, services=plugin_services(plugin))

    return make


@pytest.fixture
def cli_runner(nanofolks_home: Path):
    """``cli_runner(["plugins", "list"], input=None) -> click.testing.Result``: run the CLI in-process.

    It runs against ``nanofolks_home`` with the installed plugins (entry points), as
    ``nanofolks ...`` would; ``result.exit_code`` and ``result.output`` (stdout and stderr) tell
    what a user saw. Exceptions propagate (``catch_exceptions=False``) so a bug shows its traceback.
    """
    from click.testing import CliRunner

    from nanofolks_core.cli import cli

    def run(args: list[str], **kwargs: Any):
        runner = CliRunner()
        return runner.invoke(cli, args, catch_exceptions=False, **kwargs)

    return run
