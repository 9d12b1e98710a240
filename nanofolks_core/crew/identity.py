"""The identity part of a bot's system prompt: who it is (persona) and what it does (role).

Users adjust any bot from their workspace (layout of the user guide); missing files are skipped:

=====================================  =============================================
``identity/<team>/<role>.md``          replaces the persona part (``<team>_crew`` also accepted)
``role/<role>.md``                     replaces the role part
``soul/<role>.md``                     appended as extra personality
``bots/<role>.md``                     appended as extra instructions
=====================================  =============================================

The output depends only on the arguments and those files, so the same inputs give the same
string (prompt caches stay warm).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nanofolks_core.crew.roles import LEADER, ROLE_ORDER, ROLES, Role, get_role
from nanofolks_core.crew.team import Team
from nanofolks_core.errors import NanofolksError

_IN_CHARACTER = (
    "## Staying in character\n"
    "Stay in character in every reply, but being useful comes first: the persona shapes how you talk, "
    "never what is true. Keep code, commands, numbers and quotes exact and free of persona. Tone the act "
    "down when the user is stressed, in a hurry or asks for plain answers. Never claim you did something "
    "you did not."
)


def compose_identity(role_name: str, team: Team, workspace: Path | None, *, tools: Sequence[str] | None = None) -> str:
    """The identity system-prompt text for the bot in ``role_name`` of ``team``.

    :param role_name: a role name or mention (``coder``, ``@nanofolks`` ...).
    :param team: the loaded team whose character dresses the role.
    :param workspace: the user's workspace folder for overrides, or None for none.
    :param tools: the names of exactly the tools the bot is offered, listed in the prompt;
        None leaves the tools line out (previews, size checks).
    :raises UsageError: for an unknown role.
    :raises NanofolksError: when an override file exists but cannot be read as UTF-8 text.
    """
    role = get_role(role_name)
    persona = _persona_override(workspace, team.name, role.name) or _persona_part(role, team)
    role_part = _read_override(workspace, "role", role.name) or _role_part(role, team, tools)
    parts = [persona, role_part, _IN_CHARACTER]
    soul = _read_override(workspace, "soul", role.name)
    if soul:
        parts.append(f"## More about you\n{soul}")
    extra = _read_override(workspace, "bots", role.name)
    if extra:
        parts.append(f"## Extra instructions\n{extra}")
    return "\n\n".join(parts)


def _persona_part(role: Role, team: Team) -> str:
    character = team.character(role.name)
    who = (
        f"the {role.title} {character.emoji}"
        if character.name.lower() == role.title.lower()
        else f"{character.name} {character.emoji}, the {role.title}"
    )
    lines = [
        f"You are {who} of the {team.title} ({team.vibe.lower()}): one of six AI characters who work "
        "together for the user.",
        "",
        "## Persona",
        f"Personality: {character.personality}",
        f"Voice: {character.voice}",
        "Catchphrases (sparingly, never forced): " + " / ".join(f'"{p}"' for p in character.catchphrases),
        "Your crew:",
    ]
    for other_role in ROLE_ORDER:
        if other_role == role.name:
            continue
        other = team.character(other_role)
        line = f"- {other.emoji} {_label(other.name, ROLES[other_role])} (@{ROLES[other_role].mentions[0]})"
        address = character.address_for(other_role, other.name)
        if address != other.name:
            line += f', you call them "{address}"'
        lines.append(line)
    return "\n".join(lines)


def _label(name: str, role: Role) -> str:
    """``"Navigator Nell, Researcher"``; just ``"Researcher"`` when the character is named after its role."""
    return role.title if name.lower() == role.title.lower() else f"{name}, {role.title}"


def _role_part(role: Role, team: Team, tools: Sequence[str] | None) -> str:
    lines = [f"## Role: {role.title}", role.domain, "Good at: " + "; ".join(role.good_at) + "."]
    if tools is not None:
        listed = ", ".join(tools) + "." if tools else "none in this setup; answer from what you know."
        lines.append(f"Tools: {listed}")
    lines.append(f"How you work: {role.instructions}")
    if role.name == LEADER:
        if tools is None or "delegate" in tools:
            lines.append("Teamwork: delegate with the delegate tool to")
            for other_role in ROLE_ORDER[1:]:
                other = ROLES[other_role]
                lines.append(f"- @{other.mentions[0]} when {other.delegate_when}")
    else:
        leader_name = team.character(LEADER).name
        leader = "the Leader (@leader)" if leader_name.lower() == "leader" else f"{leader_name} (@leader)"
        lines.append(
            "Teamwork: you are a specialist; stay in your lane. If a request belongs to a crewmate, name them "
            f"by @role instead of doing it badly. When done, hand back to {leader} with a short summary."
        )
    return "\n".join(lines)


def _persona_override(workspace: Path | None, team_name: str, role_name: str) -> str | None:
    # The user guide shows identity/pirate_crew/; the plain team name is the documented layout.
    return _read_override(workspace, f"identity/{team_name}", role_name) or _read_override(
        workspace, f"identity/{team_name}_crew", role_name
    )


def _read_override(workspace: Path | None, folder: str, role_name: str) -> str | None:
    """The stripped text of ``<workspace>/<folder>/<role>.md``; None if absent or blank."""
    if workspace is None:
        return None
    path = Path(workspace) / folder / f"{role_name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise NanofolksError(f"{path} is not UTF-8 text; save it as UTF-8 or remove it") from None
    except OSError as exc:
        raise NanofolksError(f"cannot read {path}: {exc.strerror}; fix its permissions or remove it") from None
    return text.strip() or None
