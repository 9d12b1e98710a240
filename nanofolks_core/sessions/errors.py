"""Errors raised by the session store."""

from __future__ import annotations

from nanofolks_core.errors import NanofolksError


class SessionConflictError(NanofolksError):
    """A write lost its compare-and-set race.

    ``append`` raises it only after its retries are exhausted; ``replace`` raises it as soon
    as the stored version differs from ``expected_version``. The message names the room and
    the file. Nothing was written when it is raised.
    """


class SessionCorruptError(NanofolksError):
    """A stored file is not valid session JSON (or was written by a newer format).

    The message names the file; the CLI prints it without a traceback. The store itself
    recovers from most damage (see ``FileSessionStore``); ``nanofolks doctor --repair`` the rest.
    """


class SessionTooNewError(SessionCorruptError):
    """A stored file was written by a newer nanofolks. Not damage: it is never moved aside."""
