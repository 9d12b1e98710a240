"""Safe files under the data folder: the one place the core's stores get these from.

- ``atomic_write_text`` / ``atomic_write_bytes``: replace a file so readers see the old or the new
  content, never half of one (unique temp file, fsync, rename, fsync the folder).
- ``write_new_file``: a brand-new fsynced file with a unique name (``mkstemp``); ``replace_with``
  renames such a finished file onto its target (the commit point of a store's own write protocol).
- ``file_lock``: an exclusive ``flock`` that a killed process never leaves behind; re-entrant
  within a thread, so a helper may take the lock its caller already holds.
- ``private_dir`` / ``private_file``: create folders owner-only (0700), files 0600.
- ``move_aside``: rename a damaged file out of the way (never delete it) and return the new name.
- ``storage_error``: turn an ``OSError`` into a ``StorageError`` that names the file and the fix.

POSIX only (``fcntl.flock``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from nanofolks_core.errors import StorageError

FILE_MODE = 0o600
DIR_MODE = 0o700

_held = threading.local()  # lock paths this thread holds, for re-entrancy


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) exist; every folder created here is 0700.

    Folders that already exist keep their mode: they may be the user's own (``~``).
    """
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it first
        os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if it does not exist (for files another library will fill,
    such as SQLite databases: their -wal/-shm companions copy the database's mode)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)
    return Path(path)


def fsync_dir(directory: Path) -> None:
    """Make renames and creations inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    """Remove ``path`` if it exists."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def write_new_file(directory: Path, prefix: str, suffix: str, data: bytes) -> Path:
    """Write ``data`` to a brand-new 0600 file with a unique name (O_CREAT|O_EXCL, so no two writers
    in any process share one), fsync it and return its path. Removed again if anything fails
    (a full disk leaves nothing half-written behind)."""
    import tempfile  # only writers pay for the import

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


def replace_with(tmp: Path, path: Path) -> None:
    """Rename the finished file ``tmp`` onto ``path`` in one step: readers see the old file or the new one.

    ``tmp`` is removed if the rename fails (it is ours alone; never leave it behind). The caller
    fsyncs the folder (``fsync_dir``) when the rename must survive a power cut.
    """
    try:
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(Path(tmp))
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (0600) crash-safely: old content or new, never a mix."""
    path = Path(path)
    private_dir(path.parent)
    tmp = write_new_file(path.parent, f".{path.name}.", ".tmp", data)
    try:
        os.chmod(tmp, FILE_MODE)
    except BaseException:
        unlink_quietly(tmp)
        raise
    replace_with(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = FILE_MODE) -> None:
    """``atomic_write_bytes`` for UTF-8 text. Lone surrogates are written as U+FFFD."""
    from nanofolks_core.text import clean_text

    path = Path(path)
    atomic_write_bytes(path, clean_text(text).encode("utf-8"))
    if mode != FILE_MODE:
        os.chmod(path, mode)


@contextlib.contextmanager
def file_lock(lock_path: Path, *, unlocked_if_unwritable: bool = False) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created 0600; never deleted, because deleting
    a lock file others wait on would split the lock in two).

    The kernel drops the lock when the descriptor closes, also when the process is killed, so a
    crashed writer never leaves it locked. Re-entrant per thread: a nested ``file_lock`` on the
    same path inside this thread does not wait for itself.

    ``unlocked_if_unwritable``: when the lock file cannot be created or opened (a read-only
    folder or disk), run the block without the lock instead of raising ``OSError``: no process
    can write there, so there is no writer to race with. For stores that are a help, not a
    requirement, and report the unwritable folder themselves when they try to write.
    """
    import fcntl

    key = os.path.abspath(lock_path)
    held: set[str] = _held.__dict__.setdefault("paths", set())
    if key in held:
        yield
        return
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    except OSError:
        if not unlocked_if_unwritable:
            raise
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
    finally:
        os.close(fd)  # releases the flock


def move_aside(path: Path, reason: str = "damaged") -> Path:
    """Rename ``path`` to ``<name>.<reason>-<UTC time>`` in the same folder and return the new path.

    Never overwrites: a second damaged copy in the same second gets a numbered name.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1000):
        target = path.with_name(f"{path.name}.{reason}-{stamp}" + (f"-{n}" if n else ""))
        try:
            os.link(path, target)  # fails if target exists, unlike rename
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
                raise
            if target.exists():
                continue
            os.rename(path, target)  # no hard links here: rename (checked free just above)
            break
        os.unlink(path)
        break
    else:  # pragma: no cover - a thousand damaged copies in one second
        raise StorageError(f"{path}: could not find a free name to move it aside")
    fsync_dir(path.parent)
    return target


def storage_error(exc: OSError, path: Path | str) -> StorageError:
    """A ``StorageError`` saying what could not be done to which file or folder, and how to fix it
    (the same wording the CLI uses for any disk fault). Temp and lock files are named by ``path``."""
    from nanofolks_core.cli.environment_errors import describe_os_error

    where = exc.filename or path
    if any(part.startswith(".") for part in Path(where).parts[-2:]):  # temp and lock files mean nothing to a user
        where = path
    named = OSError(exc.errno, exc.strerror or str(exc), str(where))
    return StorageError(describe_os_error(named, Path(path)))


@contextlib.contextmanager
def storage_errors(path: Path | str) -> Iterator[None]:
    """Re-raise an ``OSError`` from the block as a ``StorageError`` (see ``storage_error``)."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        raise storage_error(exc, path) from exc
