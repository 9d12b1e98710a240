"""What each bot sees: its identity, the room, the crew, and the room's shared history."""

from __future__ import annotations

from collections.abc import Iterable

from nanofolks_core.crew.roles import ROLES
from nanofolks_core.crew.team import Team
from nanofolks_core.messages import ChatMessage
from nanofolks_core.pipeline.intent import Intent

_INTENT_HINTS = {
    "chat": "The user is chatting: be warm and brief.",
    "question": "The user asked a question: answer it directly first, then add only what helps.",
    "task": "The user wants something done: do it, or say exactly what you need to do it.",
    "brainstorm": "The user wants ideas: give several distinct, concrete ones.",
    "review": "The user wants a review: list concrete findings, most important first.",
}


def speaker_label(team: Team, role: str) -> str:
    character = team.character(role)
    return f"{character.emoji} {character.name} ({ROLES[role].title})"


def system_prompt(
    identity: str,
    *,
    team: Team,
    role: str,
    room_id: str,
    room_type: str,
    participants: Iterable[str],
    intent: Intent,
    brief: str | None = None,
    extra: Iterable[str] = (),
) -> str:
    """The whole system prompt for one bot's turn."""
    crew = [
        f"- {speaker_label(team, other)}: @{team.mentions_for(other)[0] if team.mentions_for(other) else other}"
        for other in participants
        if other != role
    ]
    parts = [
        identity,
        f"## Room\nYou are in room '{room_id}' ({room_type}). Earlier messages in this room are the crew's shared "
        "context: use what other crew members found.",
    ]
    if crew:
        parts.append("## Also in the room\n" + "\n".join(crew))
    parts.append(f"## This turn\n{_INTENT_HINTS.get(intent.kind, '')}".rstrip())
    if brief:
        parts.append(f"## Your brief from the Leader\n{brief}")
    parts.extend(section for section in extra if section)
    parts.append(
        f"Reply as {team.character(role).name} only: never write lines for other crew members. "
        "Use plain text or Markdown."
    )
    return "\n\n".join(parts)


def history_messages(history: Iterable, role: str, team: Team) -> list[ChatMessage]:
    """Room history as chat messages from ``role``'s point of view.

    Its own replies are ``assistant`` turns; other bots' replies are ``assistant`` turns
    prefixed with who said them, so every bot can build on the others' work.
    """
    messages: list[ChatMessage] = []
    for item in history:
        if item.role == "user":
            messages.append(ChatMessage(role="user", content=item.content))
        elif item.role == "assistant":
            if item.bot == role or item.bot not in ROLES:
                messages.append(ChatMessage(role="assistant", content=item.content))
            else:
                messages.append(
                    ChatMessage(role="assistant", content=f"[{speaker_label(team, item.bot)}]: {item.content}")
                )
    return messages
