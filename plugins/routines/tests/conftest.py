"""Fixtures of the routines tests: a data folder whose crew answers from the fake LLM server through
the testing kit's stdlib provider, and ``nanofolks`` subprocesses that load only this plugin and
that provider (so these tests pass with just the core and nanofolks-routines installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nanofolks_core.testing.gateway import GatewayProcess, cli_env


@pytest.fixture
def provider_site(tmp_path) -> Path:
    """A folder on PYTHONPATH whose dist-info names the stdlib test provider as an entry point."""
    site = tmp_path / "site"
    dist = site / "nanofolks_routines_test_provider-0.0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nanofolks-routines-test-provider\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text("[nanofolks.plugins]\ntest-provider = nanofolks_core.testing.provider\n")
    return site


@pytest.fixture
def crew_home(nanofolks_home, llm_server, provider_site):
    """``nanofolks_home`` configured for ``local/test-model`` on ``llm_server``, memory off;
    ``crew_home.env`` is the environment of CLI and gateway subprocesses using it."""
    config = {
        "agents": {"defaults": {"model": "local/test-model"}},
        "providers": {"local": {"apiBase": llm_server.base_url}},
        "memory": {"enabled": False},
    }
    (nanofolks_home / "config.json").write_text(json.dumps(config))
    env = cli_env(
        nanofolks_home,
        NANOFOLKS_LOAD_PLUGINS="routines,test-provider",
        PYTHONPATH=os.pathsep.join(filter(None, [str(provider_site), os.environ.get("PYTHONPATH", "")])),
    )
    return Home(nanofolks_home, env)


class Home:
    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.env = env

    def nanofolks(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """``nanofolks ARGS`` in a subprocess for this data folder."""
        return subprocess.run([sys.executable, "-m", "nanofolks_core", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip

    def gateway(self) -> GatewayProcess:
        """``nanofolks gateway --port 0`` for this folder (use as a context manager)."""
        process = GatewayProcess(self.path)
        process.env = self.env
        return process
