"""Ctrl-C reaches the main thread, always.

A SIGINT is delivered by the kernel to any thread that does not block it. When it lands on a
worker thread (the memory indexer, chromadb's and litellm's threads, ``asyncio.to_thread``
workers), Python still runs its handler in the main thread, but only once the main thread wakes
up: while it sits in ``input()`` (readline waits in ``select()`` and is woken only by a signal
delivered to it), Ctrl-C at the prompt then does nothing until Enter is pressed.

A thread inherits the signal mask of the thread that creates it, so blocking SIGINT around
``Thread.start`` leaves every Python worker with SIGINT blocked. Native libraries start threads
of their own (chromadb's tokio and sqlx workers, OpenBLAS when numpy is imported): the main
thread opens them inside :func:`sigint_deferred`, so they too leave SIGINT to the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_installed = False


def keep_sigint_on_main_thread() -> None:
    """From now on, threads this process starts never receive SIGINT (idempotent)."""
    global _installed
    if _installed or not hasattr(signal, "pthread_sigmask"):
        return
    original_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            original_start(self)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    threading.Thread.start = start  # type: ignore[method-assign]
    _installed = True


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold back SIGINT in this thread for the block: threads started inside never receive it.

    A Ctrl-C pressed meanwhile is not lost: it is delivered when the block ends.
    """
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
