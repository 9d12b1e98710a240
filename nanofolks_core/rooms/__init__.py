"""Rooms: where the crew works together, with participants, tasks and channel mappings.

``RoomStore`` keeps them under ``<data root>/rooms/`` (one JSON file per room plus
``channel_mappings.json``), safe for several processes at once.
"""

from .models import (
    CREW_ROLES,
    DEFAULT_ROOM,
    Room,
    RoomType,
    Task,
    TaskEvent,
    TaskPriority,
    TaskStatus,
    normalize_role,
    normalize_roles,
    suggest_room_id,
    validate_room_id,
)
from .store import RoomFileError, RoomScan, RoomStore
from .tasks import parse_due

__all__ = [
    "CREW_ROLES",
    "DEFAULT_ROOM",
    "Room",
    "RoomFileError",
    "RoomScan",
    "RoomStore",
    "RoomType",
    "Task",
    "TaskEvent",
    "TaskPriority",
    "TaskStatus",
    "normalize_role",
    "normalize_roles",
    "parse_due",
    "suggest_room_id",
    "validate_room_id",
]
