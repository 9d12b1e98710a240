"""Helpers of the gateway tests: a gateway in a thread, an installed test channel, a gateway subprocess."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def get_json(port: int, path: str = "/health") -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class GatewayThread:
    """The real ``serve()`` on its own event loop in a thread, with plugins registered by hand."""

    def __init__(self, home: Path, host, config: dict) -> None:
        from nanofolks_core.app import App

        (home / "config.json").write_text(json.dumps(config), encoding="utf-8")
        host.build_registry()
        self.app = App(host=host)
        self.gateway = None
        self.result: int | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        from nanofolks_core.gateway.server import serve

        async def main():
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()

            def ready(gateway):
                self.gateway = gateway
                self._ready.set()

            return await serve(self.app, port=0, stop=self._stop, on_ready=ready)

        try:
            self.result = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported by start()/stop()
            self.error = exc
        finally:
            self._ready.set()

    def start(self) -> GatewayThread:
        self._thread.start()
        assert self._ready.wait(30), "the gateway did not get ready in 30 s"
        if self.error is not None:
            raise self.error
        return self

    @property
    def port(self) -> int:
        return json.loads((self.app.data_root / "run" / "gateway.json").read_text())["port"]

    def health(self) -> dict:
        return get_json(self.port)[1]

    def wait_state(self, channel: str, condition, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.health()["channels"].get(channel)
            if state is not None and condition(state):
                return state
            time.sleep(0.05)
        raise AssertionError(f"{channel} never reached the state; health: {self.health()}")

    def call(self, coro, timeout: float = 30.0):
        """Run ``coro`` on the gateway's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> int | None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the gateway did not stop in 60 s"
        if self.error is not None:
            raise self.error
        return self.result


def install_test_channel(site: Path) -> dict[str, str]:
    """A distribution in ``site`` whose entry points are the test channels and the stdlib test
    provider; returns the environment a ``nanofolks`` subprocess needs to load just those."""
    dist = site / "nanofolks_gateway_test-0.0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nanofolks-gateway-test\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text(
        "[nanofolks.plugins]\ntestchat = gateway_test_channel\ntest-provider = nanofolks_core.testing.provider\n"
    )
    return {
        "PYTHONPATH": os.pathsep.join([str(site), str(HERE)]),
        "NANOFOLKS_LOAD_PLUGINS": "testchat,test-provider",
    }


class GatewayProcess:
    """``nanofolks gateway`` as a real subprocess."""

    def __init__(self, home: Path, env: dict[str, str], *args: str) -> None:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("NANOFOLKS_")}
        environ.update(env, NANOFOLKS_HOME=str(home))
        self.env = environ
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nanofolks_core", "gateway", *args],
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> dict:
        state_file = self.home / "run" / "gateway.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"the gateway exited {self.proc.returncode}: {err}")
            if state_file.exists():
                try:
                    return json.loads(state_file.read_text())
                except ValueError:
                    pass
            time.sleep(0.05)
        raise AssertionError("the gateway did not write gateway.json in time")

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the gateway did not exit in {timeout} s: {err}") from None
        return self.proc.returncode, out, err

    def nanofolks(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nanofolks_core", *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
