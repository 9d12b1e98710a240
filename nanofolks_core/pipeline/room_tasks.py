"""Room tasks in a turn: what the Leader is shown of them, and its ``hand_over_task`` tool.

The Leader plans the room's work, so its system prompt lists the room's open tasks (a few
lines, bounded, newest last) and it may hand one over to another crew member. Specialists see
neither: their brief is the task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER
from nanofolks_core.errors import UsageError

#: At most this many open tasks are listed in the Leader's prompt (the rest are counted).
OPEN_TASKS_SHOWN = 10
#: Task titles are cut to this many characters in the prompt.
TITLE_SHOWN = 100
#: Longest text kept of one tool argument in what the work-log hooks receive.
ARGUMENT_CHARS = 2000

HAND_OVER = "hand_over_task"
HAND_OVER_TOOL = {
    "type": "function",
    "function": {
        "name": HAND_OVER,
        "description": (
            "Hand one of this room's open tasks over to another crew member (kept in the task's handoff "
            "history). Use the task ids listed under 'Open tasks in this room'."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "task_id": {"type": "string", "description": "The task id, e.g. t3."},
                "to": {"type": "string", "enum": list(ROLE_ORDER)},
                "reason": {"type": "string", "description": "Why it moves (one sentence)."},
            },
            "required": ["task_id", "to"],
        },
    },
}


def may_hand_over(role: str) -> bool:
    """Whether a bot in ``role`` is offered ``hand_over_task`` (the Leader only, not when delegated to)."""
    return role == LEADER


def open_tasks_section(rooms: Any, room_id: str) -> str:
    """``## Open tasks in this room`` with one line per open task, or "" when there are none."""
    open_tasks = [task for task in rooms.tasks(room_id) if task.status.is_open]
    if not open_tasks:
        return ""
    shown = open_tasks[-OPEN_TASKS_SHOWN:]
    lines = ["## Open tasks in this room"]
    if len(open_tasks) > len(shown):
        lines.append(f"({len(open_tasks) - len(shown)} older open tasks not shown: `nanofolks room task list`)")
    for task in shown:
        title = task.title if len(task.title) <= TITLE_SHOWN else task.title[: TITLE_SHOWN - 1] + "…"
        due = f", due {task.due.isoformat()}" if task.due else ""
        lines.append(f"- {task.id} [{task.status.value}, {task.owner or 'no owner'}{due}] {title}")
    return "\n".join(lines)


def hand_over(rooms: Any, room_id: str, arguments: Mapping[str, Any]) -> tuple[str, Any]:
    """Run ``hand_over_task``: (text for the model, the changed task or None when refused).

    A task without an owner is assigned; an owned one is handed off. Mistakes (unknown id, a
    task already done, the same owner) come back to the model as ``error: ...``.
    """
    task_id = str(arguments.get("task_id", "")).strip()
    to = str(arguments.get("to", "")).strip().lower().lstrip("@")
    reason = str(arguments.get("reason") or "").strip() or None
    try:
        task = rooms.task(room_id, task_id)
        if not task.status.is_open:
            return f"error: task {task.id} is {task.status.value}; only open tasks can be handed over", None
        if task.owner is None:
            changed = rooms.assign_task(room_id, task.id, to, reason=reason)
        else:
            changed = rooms.handoff_task(room_id, task.id, to, reason=reason)
    except UsageError as exc:
        return f"error: {exc}", None
    return f"task {changed.id} is now owned by {changed.owner}", changed


def sanitized_arguments(arguments: Any, sanitize: Callable[[str], str]) -> dict[str, Any]:
    """A tool call's arguments as the work log may keep them: every text through the sanitizer
    (credentials become ``{{name}}`` references) and cut to :data:`ARGUMENT_CHARS`."""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            text = sanitize(value)
            return text if len(text) <= ARGUMENT_CHARS else text[:ARGUMENT_CHARS] + f"… [{len(text)} chars]"
        if isinstance(value, Mapping):
            return {str(key): walk(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [walk(item) for item in value]
        return value

    return walk(dict(arguments)) if isinstance(arguments, Mapping) else {}
