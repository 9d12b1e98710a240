"""Run a real ``nanofolks gateway`` in a subprocess for a test or a benchmark.

::

    from nanofolks_core.testing.gateway import GatewayProcess

    with GatewayProcess(home) as gateway:      # returns once it listens (gateway.json written)
        run = subprocess.run(["nanofolks", "chat", "-m", "Hello"], env=gateway.env, ...)
        gateway.state["socket"]                 # the control socket's path
    # SIGTERM on exit; the gateway finishes its turns and removes gateway.json

``env`` is the environment the gateway runs with (``NANOFOLKS_HOME`` set, other ``NANOFOLKS_*``
variables removed): give it to the CLI processes that should talk to this gateway.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a CLI process using data folder ``home`` (no other ``NANOFOLKS_*`` set)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
    return env | {"NANOFOLKS_HOME": str(home)} | extra


class GatewayProcess:
    """``nanofolks gateway --port 0`` for ``home``; :meth:`start` waits until it is ready."""

    def __init__(self, home: Path, *, ready_timeout: float = 180.0, log: Path | None = None) -> None:
        self.home = Path(home)
        self.env = cli_env(self.home)
        self.ready_timeout = ready_timeout
        self.log_path = log or self.home.parent / f"{self.home.name}-gateway.log"
        self.proc: subprocess.Popen | None = None
        self.state: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> GatewayProcess:
        from nanofolks_core.gateway.state import running_gateway

        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "gateway", "--port", "0"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self.env,
        )
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        while True:
            state = running_gateway(self.home)
            if state is not None and state.get("pid") == self.proc.pid and state.get("socket"):
                self.state = state
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"the gateway exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the gateway was not ready after {self.ready_timeout:.0f} s:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        """What the gateway wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, then wait (SIGKILL after ``timeout``); returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would (gateway.json stays behind)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
