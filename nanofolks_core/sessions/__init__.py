"""Per-room session history that concurrent processes and channels can safely append to."""

from .errors import SessionConflictError, SessionCorruptError
from .message import ROLES, SessionMessage
from .store import FileSessionStore, validate_room

__all__ = [
    "ROLES",
    "FileSessionStore",
    "SessionConflictError",
    "SessionCorruptError",
    "SessionMessage",
    "validate_room",
]
