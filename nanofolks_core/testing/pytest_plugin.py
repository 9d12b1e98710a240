"""pytest fixtures for nanofolks and its plugin authors (loaded through the ``pytest11`` entry point).

* ``nanofolks_home`` - a fresh, empty data root (``NANOFOLKS_HOME``) for the test.
* ``plugin_host`` - a plugin manager with entry-point autoload off and strict errors.
* ``register_plugin`` - register a plugin module/object on ``plugin_host``, rebuild the
  registry, and unregister it after the test.
* ``llm_server`` - a local OpenAI-compatible server on 127.0.0.1 with scripted replies.
* ``cli_runner`` - run ``nanofolks ...`` in-process: ``result = cli_runner(["plugins", "list"])``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def nanofolks_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "nanofolks-home"
    home.mkdir()
    monkeypatch.setenv("NANOFOLKS_HOME", str(home))
    for name in ("NANOFOLKS_DISABLE_PLUGINS", "NANOFOLKS_LOAD_PLUGINS", "NANOFOLKS_USE_CAS_STORAGE"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def plugin_host():
    from nanofolks_core.plugins import PluginHost

    return PluginHost(strict=True, trace=False)


@pytest.fixture
def register_plugin(plugin_host) -> Iterator[Callable[..., Any]]:
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
    from nanofolks_core.testing.llm_server import FakeLLMServer

    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def cli_runner(nanofolks_home: Path):
    from click.testing import CliRunner

    from nanofolks_core.cli import cli

    def run(args: list[str], **kwargs: Any):
        runner = CliRunner()
        return runner.invoke(cli, args, catch_exceptions=False, **kwargs)

    return run
