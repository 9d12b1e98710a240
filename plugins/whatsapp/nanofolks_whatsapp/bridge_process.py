"""Running the Node.js bridge the plugin ships (``nanofolks_whatsapp/bridge/``).

Three steps, each with an error a person can act on: find Node.js >= 20, install the bridge's
npm packages into the channel's data folder (once, again only when the plugin's pinned versions
change), and run ``index.mjs`` as a child process that reports the port it listens on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
from collections import deque
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from nanofolks_core.api import NanofolksError, private_dir

#: Oldest Node.js major version the pinned baileys supports (its package.json says ``>=20``).
MIN_NODE_MAJOR = 20

#: Files copied from the package into ``<data_dir>/bridge`` before every start.
BRIDGE_FILES = ("package.json", "package-lock.json", "index.mjs")

#: Written into node_modules after a successful install: the hash of the pinned versions.
INSTALL_STAMP = ".nanofolks-installed"

#: The environment variable that hands the bridge its token (not argv: ``ps`` shows argv to everyone).
TOKEN_ENV = "NANOFOLKS_BRIDGE_TOKEN"  # noqa: S105 - the variable's name, not a secret

INSTALL_HELP = "install Node.js 20 or newer (https://nodejs.org, or e.g. `apt install nodejs npm`)"


class BridgeError(NanofolksError):
    """The bridge cannot be set up or run; the message says what to do."""


def find_node(node: str) -> tuple[str, str]:
    """``(path, version)`` of the Node.js program ``node`` (a name on PATH or a path).

    Raises :class:`BridgeError` when it is missing, does not run, or is older than 20.
    """
    path = shutil.which(node)
    if path is None:
        raise BridgeError(
            f"Node.js was not found (channels.whatsapp.node is {node!r}): the WhatsApp bridge needs it; "
            f"{INSTALL_HELP}, or set channels.whatsapp.node to its path"
        )
    try:
        done = subprocess.run(  # noqa: S603 - the node the user configured
            [path, "--version"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BridgeError(f"{path} --version did not run ({exc}); {INSTALL_HELP}") from None
    version = done.stdout.strip()
    match = re.fullmatch(r"v?(\d+)\.\d+\.\d+.*", version)
    if done.returncode != 0 or match is None:
        raise BridgeError(f"{path} does not look like Node.js ('--version' said {version or done.stderr.strip()!r})")
    if int(match.group(1)) < MIN_NODE_MAJOR:
        raise BridgeError(
            f"Node.js {version} at {path} is too old: the WhatsApp bridge needs {MIN_NODE_MAJOR} or newer; "
            f"{INSTALL_HELP}"
        )
    return path, version


def find_npm(node_path: str) -> str:
    """npm next to ``node_path`` (the same installation), else the one on PATH."""
    beside = Path(node_path).parent / "npm"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("npm")
    if found is None:
        raise BridgeError(
            f"npm was not found next to {node_path} or on PATH: it installs the WhatsApp bridge; {INSTALL_HELP}"
        )
    return found


def _bridge_sources() -> dict[str, bytes]:
    folder = resources.files("nanofolks_whatsapp") / "bridge"
    return {name: (folder / name).read_bytes() for name in BRIDGE_FILES}


def _stamp(sources: dict[str, bytes]) -> str:
    digest = hashlib.sha256(sources["package.json"] + b"\0" + sources["package-lock.json"])
    return digest.hexdigest()


def prepare_bridge(bridge_dir: Path, node_path: str, log) -> Path:
    """Copy the bridge into ``bridge_dir`` and ``npm ci`` its packages when they are missing or
    outdated; returns the path of ``index.mjs``. Blocking (npm may take a minute): run it in a thread.
    """
    private_dir(bridge_dir)
    sources = _bridge_sources()
    for name, data in sources.items():
        target = bridge_dir / name
        if not target.is_file() or target.read_bytes() != data:
            target.write_bytes(data)
    stamp_file = bridge_dir / "node_modules" / INSTALL_STAMP
    stamp = _stamp(sources)
    if stamp_file.is_file() and stamp_file.read_text().strip() == stamp:
        return bridge_dir / "index.mjs"
    npm = find_npm(node_path)
    log.info("whatsapp: installing the bridge's npm packages into %s (once; may take a minute)", bridge_dir)
    command = [npm, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    env = {**os.environ, "PATH": f"{Path(node_path).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        done = subprocess.run(  # noqa: S603 - npm beside the configured node, fixed arguments
            command, cwd=bridge_dir, capture_output=True, text=True, timeout=900, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        raise BridgeError(
            f"npm ci in {bridge_dir} took over 15 minutes: check your network access to the npm registry "
            "(npm config get registry) and try again"
        ) from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        why = lines[-1] if lines else f"exit {done.returncode}"
        raise BridgeError(
            f"npm could not install the WhatsApp bridge's packages into {bridge_dir} ({why}); check that the npm "
            f"registry is reachable (npm config get registry), then try again, or run `npm ci` there yourself"
        )
    stamp_file.write_text(stamp + "\n")
    return bridge_dir / "index.mjs"


@contextlib.contextmanager
def bridge_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``<data_dir>/bridge.lock`` while a bridge runs on this login.

    Two bridges on one WhatsApp login make WhatsApp drop one of them ("connection replaced"),
    so a second one is refused at once instead of waited for (unlike the core's ``file_lock``).
    """
    import fcntl

    fd = os.open(data_dir / "bridge.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BridgeError(
                f"the WhatsApp bridge for {data_dir} is already running in another nanofolks process "
                "(a gateway, or a `nanofolks channels login whatsapp`): stop that one first"
            ) from None
        yield
    finally:
        os.close(fd)


class BridgeProcess:
    """A running ``node index.mjs``; ``port`` is where its websocket listens (on 127.0.0.1).

    Its stdin stays open as a lifeline: the bridge exits when it closes, so a parent killed
    with SIGKILL never leaves a bridge holding the WhatsApp login.
    """

    def __init__(self, process: asyncio.subprocess.Process, log) -> None:
        self.process = process
        self.port: int | None = None
        self.log = log
        #: The last lines the bridge wrote, for error messages.
        self.tail: deque[str] = deque(maxlen=15)
        self._listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._readers: list[asyncio.Task] = []

    @classmethod
    async def spawn(
        cls,
        *,
        node: str,
        script: Path,
        token: str,
        log,
        auth_dir: Path | None = None,
        port: int = 0,
        login: bool = False,
        selftest: bool = False,
        ready_timeout: float = 60,
    ) -> BridgeProcess:
        """Start the bridge and wait until it listens. In ``login`` mode what it writes for
        people (the QR code) goes straight to this terminal; otherwise it goes to ``log``."""
        args = [node, str(script), "--host", "127.0.0.1", "--port", str(port), "--parent-pipe"]
        if auth_dir is not None:
            args += ["--auth-dir", str(auth_dir)]
        if login:
            args.append("--login")
        if selftest:
            args.append("--selftest")
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=script.parent,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None if login else asyncio.subprocess.PIPE,
            env={**os.environ, TOKEN_ENV: token},
        )
        bridge = cls(process, log)
        bridge._readers.append(asyncio.create_task(bridge._read_stdout()))
        if process.stderr is not None:
            bridge._readers.append(asyncio.create_task(bridge._read_stderr()))
        try:
            bridge.port = await asyncio.wait_for(asyncio.shield(bridge._listening), ready_timeout)
        except BaseException:
            await bridge.terminate()
            raise
        return bridge

    async def _read_stdout(self) -> None:
        import json

        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            try:
                frame = json.loads(line)
            except ValueError:
                frame = None
            if isinstance(frame, dict) and frame.get("type") == "listening" and not self._listening.done():
                self._listening.set_result(int(frame["port"]))
            elif line:
                self.tail.append(line)
                self.log.info("whatsapp bridge: %s", line)
        await self.process.wait()
        if not self._listening.done():
            why = "; ".join(self.tail) or "no output"
            self._listening.set_exception(
                BridgeError(f"the WhatsApp bridge stopped before it was ready (exit {self.process.returncode}): {why}")
            )

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self.tail.append(line)
                self.log.info("whatsapp bridge: %s", line)

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def last_words(self) -> str:
        """What the bridge said last (why it stopped, usually)."""
        return self.tail[-1] if self.tail else ""

    async def wait(self) -> int:
        """Wait for the bridge to exit (and its output to be read); its exit code."""
        code = await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        return code

    async def terminate(self, grace: float = 5) -> None:
        """Stop the bridge: close its lifeline and SIGTERM it, SIGKILL after ``grace`` seconds."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if not self._listening.done():
            self._listening.cancel()
