"""One run of a routine: a room task, a crew turn, the outcome recorded and delivered.

    room task "routine NAME: <message>" (in progress) -> crew.ask(message, room, metadata={"routine", "task"})
    -> task done (the answer's first line in its history), or failed / timed out with the reason
    -> the replies to the chat-app chats mapped to the room (crew.deliver) -> state.json

The turn itself is stored in the room's history by the pipeline like any message, so the room shows
the routine's question and the crew's answer. A run never raises (but CancelledError): whatever goes
wrong is the run's result.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nanofolks_core.api import clean_text
from nanofolks_routines.schedule import utc_now
from nanofolks_routines.store import Routine, RoutineStore

log = logging.getLogger("nanofolks.routines")

#: Seconds a run may take before it counts as timed out (the turn is cancelled: nothing stored).
RUN_TIMEOUT = 600.0
#: Characters of the answer kept as the run's result (state.json, ``routines list``, task history).
RESULT_CHARS = 300


def _one_line(text: str, limit: int = RESULT_CHARS) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _open_tasks(rooms: Any, room: str) -> list[Any]:
    return [
        task for task in rooms.tasks(room) if str(getattr(task.status, "value", task.status)) not in ("done", "failed")
    ]


def _task_listing(tasks: list[Any]) -> str:
    if not tasks:
        return "(no open tasks)"
    lines = []
    for task in tasks:
        status = getattr(task.status, "value", task.status)
        owner = f" @{task.owner}" if task.owner else ""
        due = f" due {task.due.isoformat()}" if task.due else ""
        lines.append(f"- {task.id} [{status}]{owner}{due}: {task.title}")
    return "\n".join(lines)


def set_task_status(rooms: Any, room: str, task_id: str, status: str, reason: str | None) -> None:
    """Set a task's status with ``reason`` in its history; where the room store predates the
    ``failed`` status or reasons, falls back to ``blocked`` / no reason."""
    try:
        rooms.set_task_status(room, task_id, status, reason=reason)
    except TypeError:
        rooms.set_task_status(room, task_id, status if status != "failed" else "blocked")
    except ValueError:
        if status != "failed":
            raise
        rooms.set_task_status(room, task_id, "blocked", reason=reason)


def prompt_for(routine: Routine, rooms: Any) -> tuple[str | None, str | None]:
    """The text the crew is asked (``@bot`` first when the routine names one), or None and why not."""
    message = routine.message
    if "{open_tasks}" in message or routine.needs_open_tasks:
        tasks = _open_tasks(rooms, routine.room)
        if routine.needs_open_tasks and not tasks:
            return None, f"room {routine.room} has no open tasks"
        message = message.replace("{open_tasks}", _task_listing(tasks))
    if routine.bot:
        message = f"@{routine.bot} {message}"
    return message, None


async def run_routine(
    crew: Any,
    store: RoutineStore,
    routine: Routine,
    *,
    trigger: str = "schedule",
    timeout: float = RUN_TIMEOUT,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Run ``routine`` once through ``crew`` (a CrewAccess); returns its state.json entry."""
    name, room = routine.name, routine.room
    started = utc_now()
    fields: dict[str, Any] = {"lastRun": started, "trigger": trigger, "room": room, "request": request_id}
    try:
        text, skip = prompt_for(routine, crew.rooms)
    except Exception as exc:  # noqa: BLE001 - a deleted room, a damaged room file: the run's result
        text, skip = None, None
        fields |= {"lastStatus": "failed", "lastResult": _one_line(f"room {room}: {exc}"), "task": None}
    if skip is not None:
        fields |= {"lastStatus": "skipped", "lastResult": skip, "task": None}
    if text is None:
        log.info("routine %s: %s", name, fields["lastResult"])
        return store.update_state(name, **fields, running=False, finished=utc_now())

    title = _one_line(f"routine {name}: {routine.message}", 200)
    try:
        task = crew.rooms.add_task(room, title, owner=routine.bot or "leader")
        set_task_status(crew.rooms, room, task.id, "in_progress", f"run by routine {name} ({trigger})")
    except Exception as exc:  # noqa: BLE001 - the room was deleted, its file is damaged or read-only
        outcome = _one_line(f"cannot record the run in room {room}: {exc}")
        log.warning("routine %s: %s", name, outcome)
        return store.update_state(name, **fields, task=None, running=False, lastStatus="failed", lastResult=outcome)
    store.update_state(name, **fields, task=task.id, running=True, lastStatus="running")
    log.info("routine %s: running in room %s as task %s", name, room, task.id)
    metadata = {"routine": name, "task": task.id, "trigger": trigger}
    replies: list[Any] = []
    try:
        result = await asyncio.wait_for(crew.ask(text, room=room, metadata=metadata), timeout)
    except TimeoutError:
        status, outcome = "timed out", f"no answer within {timeout:.0f} s"
    except asyncio.CancelledError:
        set_task_status(crew.rooms, room, task.id, "failed", "stopped: the gateway shut down during the run")
        store.update_state(name, running=False, lastStatus="failed", lastResult="stopped by a shutdown")
        raise
    except Exception as exc:  # noqa: BLE001 - no model, provider down, room gone: the run's result
        status, outcome = "failed", _one_line(f"{type(exc).__name__}: {exc}")
    else:
        replies = list(result.replies)
        failed = [reply for reply in replies if getattr(reply, "error", None)]
        answer = "\n\n".join(reply.text for reply in replies if not getattr(reply, "error", None))
        if failed and not answer:
            status, outcome = "failed", _one_line(f"{failed[0].bot}: {failed[0].error}")
        else:
            status, outcome = "done", _one_line(answer) or "(no answer)"
    task_status = "done" if status == "done" else "failed"
    set_task_status(crew.rooms, room, task.id, task_status, outcome if status == "done" else f"{status}: {outcome}")
    delivered = 0
    if replies and status == "done":
        texts = [clean_text(f"{reply.emoji} {reply.name} (routine {name}): {reply.text}") for reply in replies]
        try:
            delivered = await crew.deliver(room, *texts, bot=replies[0].bot)
        except Exception as exc:  # noqa: BLE001 - the answer is stored; a chat app being down is logged
            log.warning("routine %s: delivering to the chats of room %s failed: %s", name, room, exc)
    log.info("routine %s: %s (task %s, %d chat(s)): %s", name, status, task.id, delivered, outcome)
    return store.update_state(
        name, running=False, lastStatus=status, lastResult=outcome, finished=utc_now(), delivered=delivered
    )
