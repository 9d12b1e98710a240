"""Low-level file helpers for the session store: unique temp files, fsync, flock, JSON.

POSIX only (``fcntl.flock``). Nothing here knows about rooms or messages.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import SessionCorruptError

FORMAT_VERSION = 1
HEAD_KIND = "nanofolks.session.head"
SEGMENT_KIND = "nanofolks.session.segment"
TMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"


def dumps(obj: Any) -> bytes:
    """UTF-8 JSON. Falls back to ASCII escapes when the text holds lone surrogates,
    which UTF-8 cannot encode; both forms load back to the same strings."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def load_doc(data: bytes, kind: str, path: Path) -> dict[str, Any]:
    """Parse one stored document and check its kind and format version."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SessionCorruptError(f"{path}: not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("kind") != kind:
        raise SessionCorruptError(f"{path}: not a {kind} file")
    fmt = doc.get("format")
    if not isinstance(fmt, int) or fmt < 1:
        raise SessionCorruptError(f"{path}: missing or invalid format version {fmt!r}")
    if fmt > FORMAT_VERSION:
        raise SessionCorruptError(
            f"{path}: format version {fmt} was written by a newer nanofolks "
            f"(this one reads up to {FORMAT_VERSION}); upgrade nanofolks"
        )
    return doc


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def write_new_file(directory: Path, prefix: str, suffix: str, data: bytes) -> Path:
    """Write ``data`` to a brand-new file with a unique name (``mkstemp``: O_CREAT|O_EXCL,
    so no two writers in any process ever share a name), fsync it and return its path.
    The file is removed again if anything fails."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        unlink_quietly(Path(name))
        raise
    os.close(fd)
    return Path(name)


def fsync_dir(directory: Path) -> None:
    """Make renames/creations inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``directory/.lock``.

    The kernel drops the lock when the descriptor is closed, including when the process is
    killed, so a crashed writer never leaves a room locked. The lock file itself is never
    deleted (deleting a lock file others may be waiting on would split the lock in two).
    """
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the flock
