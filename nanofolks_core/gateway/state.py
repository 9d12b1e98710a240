"""The gateway's run folder: one gateway per data folder, and how other processes find it.

    <data_root>/run/            0700
        gateway.lock            flock held for the gateway's whole life (holds its pid as text)
        gateway.json            {"pid", "port", "socket", "version", "started"}: written once the
                                gateway listens, removed when it exits cleanly
        gateway.sock            the control socket (0600), unless that path is too long for AF_UNIX

:func:`running_gateway` is what the thin client and ``nanofolks gateway status`` call: it is cheap
(one small file read, one ``flock`` probe) and imports nothing heavy. The lock, not the pid, is the
truth: the kernel drops it when the gateway dies, even on ``kill -9``, so a stale ``gateway.json``
(or a pid reused by another program) is never mistaken for a live gateway.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from nanofolks_core.errors import NanofolksError

RUN_DIR = "run"
LOCK_NAME = "gateway.lock"
STATE_NAME = "gateway.json"
SOCKET_NAME = "gateway.sock"
#: AF_UNIX paths are limited to ~108 bytes (104 on macOS); longer ones go to a short folder.
MAX_SOCKET_PATH = 100


class GatewayAlreadyRunning(NanofolksError):
    """Another gateway holds this data folder's lock."""


def run_dir(data_root: Path) -> Path:
    """``<data_root>/run`` (not created)."""
    return Path(data_root) / RUN_DIR


def state_path(data_root: Path) -> Path:
    """``<data_root>/run/gateway.json``."""
    return run_dir(data_root) / STATE_NAME


def control_socket_path(data_root: Path) -> Path:
    """Where the control socket goes: ``run/gateway.sock``, or when that path is too long for
    AF_UNIX, ``$XDG_RUNTIME_DIR/nanofolks-<hash>.sock`` or ``/tmp/nanofolks-<uid>/<hash>.sock``
    (the hash is of the data folder, so two homes never share a socket)."""
    preferred = run_dir(data_root) / SOCKET_NAME
    if len(os.fsencode(str(preferred))) <= MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha1(os.fsencode(str(Path(data_root).resolve())), usedforsecurity=False).hexdigest()[:16]
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir() and len(runtime) < MAX_SOCKET_PATH - 40:
        return Path(runtime) / f"nanofolks-{digest}.sock"
    # A per-user folder made 0700 by whoever creates the socket, which refuses it when another
    # user owns it (gateway/control.py); /tmp, not $TMPDIR, keeps the path short enough.
    return Path("/tmp") / f"nanofolks-{os.getuid()}" / f"{digest}.sock"  # noqa: S108  # nosec B108


def read_state(data_root: Path) -> dict[str, Any] | None:
    """The content of ``gateway.json``, or None when there is none or it cannot be read."""
    try:
        data = json.loads(state_path(data_root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _lock_is_held(data_root: Path) -> bool | None:
    """True when a process holds the gateway lock, False when nobody does, None if unknown."""
    import fcntl

    try:
        fd = os.open(run_dir(data_root) / LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return True
        return None
    else:
        return False
    finally:
        os.close(fd)  # also releases a probe lock we took


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, though not ours
    return True


def running_gateway(data_root: Path) -> dict[str, Any] | None:
    """``gateway.json`` of the gateway running for ``data_root``, or None when none runs.

    A ``gateway.json`` left behind by a gateway that died (``kill -9``, power loss) is removed.
    """
    state = read_state(data_root)
    if state is None:
        return None
    held = _lock_is_held(data_root)
    if held is None:  # cannot probe the lock (odd permissions): fall back on the pid
        held = _pid_alive(state.get("pid"))
    if held and _pid_alive(state.get("pid")):
        return state
    if not held:
        remove_state(data_root, only_if_pid=state.get("pid"))
    return None


def write_state(data_root: Path, **fields: Any) -> Path:
    """Write ``gateway.json`` atomically (0600) with ``fields`` (pid, port, socket, version, started)."""
    from nanofolks_core.atomic import atomic_write_text, private_dir

    private_dir(run_dir(data_root))
    path = state_path(data_root)
    atomic_write_text(path, json.dumps(fields, indent=2) + "\n")
    return path


def remove_state(data_root: Path, *, only_if_pid: Any = None) -> None:
    """Remove ``gateway.json`` (when ``only_if_pid`` is given, only if it still names that pid)."""
    if only_if_pid is not None:
        current = read_state(data_root)
        if current is not None and current.get("pid") != only_if_pid:
            return
    with contextlib.suppress(FileNotFoundError, PermissionError):
        state_path(data_root).unlink()


class GatewayLock:
    """The flock that makes a gateway the only one for its data folder; held until :meth:`release`.

    :meth:`acquire` raises :class:`GatewayAlreadyRunning` ("a gateway is already running for
    <home> (pid N)") when another process holds it.
    """

    def __init__(self, data_root: Path) -> None:
        self.data_root = Path(data_root)
        self.path = run_dir(self.data_root) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self, wait: float = 0.5) -> None:
        import fcntl

        from nanofolks_core.atomic import private_dir

        private_dir(run_dir(self.data_root))
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # A status probe holds the lock for microseconds: retry briefly before calling it taken.
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                if time.monotonic() >= deadline:
                    pid = self._holder(fd)
                    os.close(fd)
                    who = f" (pid {pid})" if pid else ""
                    raise GatewayAlreadyRunning(f"a gateway is already running for {self.data_root}{who}") from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def _holder(self, fd: int) -> int | None:
        state = read_state(self.data_root)
        if state and isinstance(state.get("pid"), int):
            return state["pid"]
        try:
            return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the kernel drops the flock with the descriptor
            self._fd = None

    def __enter__(self) -> GatewayLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
