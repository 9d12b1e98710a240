"""Per-room session history that concurrent processes and channels can safely append to."""

from .errors import SessionConflictError, SessionCorruptError, SessionTooNewError
from .message import MESSAGE_ROLES, SessionMessage
from .store import FileSessionStore, validate_room

__all__ = [
    "MESSAGE_ROLES",
    "FileSessionStore",
    "SessionConflictError",
    "SessionCorruptError",
    "SessionTooNewError",
    "SessionMessage",
    "validate_room",
]
