"""Errors a person can act on. The CLI prints them without a traceback."""

from __future__ import annotations


class NanofolksError(Exception):
    """An error caused by input or environment, with a message that says how to fix it.

    ``exit_code`` is what the CLI exits with (2 for bad input, 1 otherwise).
    """

    exit_code = 1


class UsageError(NanofolksError):
    """A name or value the user typed is wrong."""

    exit_code = 2


class LLMCallDenied(NanofolksError):
    """Raised by a ``nanofolks_before_llm_call`` hook to stop a call; the message is the reason."""


class StorageError(NanofolksError):
    """The data folder cannot be read or written (read-only, full, permissions, damaged file).

    The message names the folder or file and what to free or fix; nothing half-written is left.
    """
