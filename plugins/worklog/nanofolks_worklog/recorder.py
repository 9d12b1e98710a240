"""What each pipeline event becomes in the work log (called from the hooks in ``plugin.py``).

A work log that cannot be written (read-only folder, full disk) must not cost the user their
answer, nor switch the plugin off for good: the hook logs one warning per process and the turn
goes on. Everything stored here already passed the core's sanitizer (credentials are
``{{name}}`` references); the hookspecs promise that.
"""

from __future__ import annotations

import logging
from typing import Any

from nanofolks_core.api import NanofolksError, data_root
from nanofolks_worklog.store import WorkLog, worklog_for

log = logging.getLogger("nanofolks.worklog")

#: Tools whose successful call produces a file (the argument naming it).
ARTIFACT_ARGUMENTS = ("path", "file", "filename", "file_path")
ARTIFACT_PREFIXES = ("write", "save", "create", "export")
#: Longest reply text kept per bot in a turn's detail.
REPLY_CHARS = 4000

_warned: set[str] = set()


def current_log() -> WorkLog:
    return worklog_for(data_root())


def _safely(action: str, write: Any) -> None:
    try:
        write()
    except NanofolksError as exc:  # StorageError: the folder or disk; the crew's answer matters more
        if str(exc) not in _warned:
            _warned.add(str(exc))
            log.warning("work log: could not record %s: %s", action, exc)


def provider_of(model: str) -> str:
    """``openrouter/anthropic/claude`` -> ``openrouter``; a model without a prefix -> ``unknown``."""
    return model.split("/", 1)[0] if "/" in model else "unknown"


def record_turn(inbound: Any, result: Any) -> None:
    replies = list(result.replies)
    bots = [reply.bot for reply in replies]
    failed = [reply for reply in replies if reply.error]
    outcome = "error" if replies and len(failed) == len(replies) else ("partial" if failed else "ok")
    routine = (inbound.metadata or {}).get("routine")
    first_model = next((reply.model for reply in replies if reply.model), "")
    tier = getattr(result.route, "tier", None) if result.route is not None else None
    answer = " | ".join(f"{reply.bot}: {reply.text[:300]}" for reply in replies)
    detail = {
        "text": inbound.text,
        "sender": inbound.sender,
        "chat_id": inbound.chat_id,
        "intent": getattr(result.intent, "kind", None),
        "metadata": {key: value for key, value in (inbound.metadata or {}).items() if isinstance(key, str)},
        "replies": [
            {
                "bot": reply.bot,
                "model": reply.model,
                "text": reply.text[:REPLY_CHARS],
                "prompt_tokens": reply.usage.prompt_tokens,
                "completion_tokens": reply.usage.completion_tokens,
                "delegated_by": reply.delegated_by,
                "error": reply.error,
            }
            for reply in replies
        ],
        "timings_ms": {key: round(value, 1) for key, value in result.timings.items()},
        "warnings": list(result.warnings),
    }
    fields = {
        "room": result.room,
        # The bots the message went to first (the Leader), then those it delegated to.
        "bot": ",".join(dict.fromkeys([*getattr(result.assignment, "bots", ()), *bots])),
        "channel": inbound.channel,
        "routine": str(routine) if routine is not None else None,
        "name": getattr(result.intent, "kind", None),
        "outcome": outcome,
        "summary": f"{inbound.text}\n{answer}",
        "detail": detail,
        "seconds": result.timings.get("total", 0.0) / 1000,
        "model": first_model or None,
        "provider": provider_of(first_model) if first_model else None,
        "tier": tier,
    }
    _safely("a turn", lambda: current_log().add("turn", **fields))


def record_tool(call: Any, bot: str, room: str, outcome: str, error: str | None, seconds: float) -> None:
    arguments = dict(call.arguments or {})
    work = current_log()
    if call.name == "delegate":
        to, brief = str(arguments.get("to", "")), str(arguments.get("task", ""))
        fields = {"name": to, "summary": f"delegate to {to}: {brief}"}
        kind = "delegation"
    else:
        shown = ", ".join(f"{key}={_short(value)}" for key, value in arguments.items())
        fields = {"name": call.name, "summary": f"{call.name}({shown})" + (f"\n{error}" if error else "")}
        kind = "tool"
    detail = {"call_id": call.id, "arguments": arguments, "error": error}
    _safely(
        f"the tool call {call.name}",
        lambda: work.add(kind, room=room, bot=bot, outcome=outcome, seconds=seconds, detail=detail, **fields),
    )
    artifact = produced_file(call.name, arguments) if outcome == "ok" else None
    if artifact is not None:
        _safely(
            "an artifact",
            lambda: work.add(
                "artifact",
                room=room,
                bot=bot,
                name=artifact,
                outcome="ok",
                summary=f"{artifact} (written by {call.name})",
                detail={"tool": call.name, "call_id": call.id, "arguments": arguments},
            ),
        )


def produced_file(tool: str, arguments: dict[str, Any]) -> str | None:
    """The file a tool call wrote, when its name says it writes (write_file, save_note ...)."""
    if not tool.startswith(ARTIFACT_PREFIXES):
        return None
    for key in ARTIFACT_ARGUMENTS:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def record_task(room: str, task: Any, event: str) -> None:
    last = task.history[-1] if task.history else None
    reason = getattr(last, "reason", None)
    summary = f"task {task.id} {event}: {task.title} (owner {task.owner or '-'})" + (f" - {reason}" if reason else "")
    fields = {
        "room": room,
        "bot": task.owner,
        "name": task.id,
        "outcome": event,
        "summary": summary,
        "detail": {"task": task.to_dict(), "event": event},
    }
    _safely(f"task {task.id}", lambda: current_log().add("task", **fields))


def record_llm_call(request: Any, response: Any) -> None:
    metadata = request.metadata or {}
    model = request.model
    fields = {
        "room": metadata.get("room"),
        "bot": metadata.get("bot"),
        "name": metadata.get("purpose") or "turn",
        "outcome": "ok",
        "summary": f"{model} ({response.usage.prompt_tokens}+{response.usage.completion_tokens} tokens)",
        "detail": {"response_model": response.model, "step": metadata.get("step")},
        "model": model,
        "provider": provider_of(model),
        "tier": metadata.get("tier"),
        "prompt_tokens": response.usage.prompt_tokens,
        "completion_tokens": response.usage.completion_tokens,
        "cost": response.cost,
    }
    _safely("a model call", lambda: current_log().add("llm", **fields))


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
