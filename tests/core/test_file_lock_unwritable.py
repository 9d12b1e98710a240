"""``file_lock``: held against other openers, and ``unlocked_if_unwritable`` for read-only folders."""

from __future__ import annotations

import fcntl
import os

import pytest

from nanofolks_core.api import file_lock

needs_non_root = pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")


def _locked_by_someone(path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_the_lock_is_held_inside_the_block_and_released_after(tmp_path):
    lock = tmp_path / ".lock"
    with file_lock(lock, unlocked_if_unwritable=True):
        assert _locked_by_someone(lock)
    assert not _locked_by_someone(lock)


@needs_non_root
def test_a_read_only_folder_raises_unless_the_store_runs_unlocked(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError), file_lock(folder / ".lock"):
            pass
        ran = False
        with file_lock(folder / ".lock", unlocked_if_unwritable=True):
            ran = True
        assert ran and not (folder / ".lock").exists()
    finally:
        folder.chmod(0o700)


def test_a_lock_file_that_cannot_be_created_raises_unless_the_store_runs_unlocked(tmp_path):
    lock = tmp_path / "not-there" / ".lock"  # cannot be created, also for root
    with pytest.raises(FileNotFoundError), file_lock(lock):
        pass
    ran = False
    with file_lock(lock, unlocked_if_unwritable=True):
        ran = True
    assert ran
