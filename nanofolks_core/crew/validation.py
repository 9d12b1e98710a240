"""Quality checks for team authors: what loading a team allows but a good team avoids.

Kept apart from the loader (:mod:`nanofolks_core.crew.team`): checking a team composes each
bot's identity, which builds on the loaded team.
"""

from __future__ import annotations

from nanofolks_core.crew.identity import compose_identity
from nanofolks_core.crew.roles import LEADER, ROLE_MENTIONS, ROLE_ORDER, ROLES
from nanofolks_core.crew.team import Team, slugify

#: Aim for each bot's composed identity to stay below this many characters.
IDENTITY_BUDGET = 2500

#: The built-in tools' names (nanofolks_core/builtins/core.py): the size check leaves room for a
#: tools line listing all of them (installed plugins may add more; a team cannot know which).
_BUILTIN_TOOLS = ("read_file", "list_files", "write_file", "read_tool_output", "read_skill")


def _budget_tools(role: str) -> tuple[str, ...]:
    return ("delegate", *_BUILTIN_TOOLS) if role == LEADER else _BUILTIN_TOOLS


def validate_team(team: Team) -> list[str]:
    """Quality problems that loading allows but a good team avoids; an empty list means none.

    Checks: character names, greetings and voices are distinct; each character addresses the
    other five; each is reachable by an ``@mention`` of its own; each composed identity stays
    within :data:`IDENTITY_BUDGET`. Team plugins assert ``validate_team(team) == []`` in their tests.
    """
    problems: list[str] = []
    for field in ("name", "greeting", "voice", "personality"):
        seen: dict[str, str] = {}
        for role, character in team.characters.items():
            value = " ".join(getattr(character, field).lower().split())
            if value in seen:
                problems.append(f"{role} and {seen[value]} have the same {field}")
            seen.setdefault(value, role)
    mentions = team.mention_map()
    for role, character in team.characters.items():
        missing = [other for other in ROLE_ORDER if other != role and other not in character.addresses]
        if missing:
            problems.append(f"{role} ({character.name}) does not say how it addresses: {', '.join(missing)}")
        own = [alias for alias, target in mentions.items() if target == role and alias not in ROLES[role].mentions]
        if not own and slugify(character.name) not in ROLE_MENTIONS:
            problems.append(f"{role} ({character.name}) cannot be reached by @name: pick a more distinct name")
        size = len(compose_identity(role, team, None, tools=_budget_tools(role)))
        if size > IDENTITY_BUDGET:
            problems.append(
                f"{role} ({character.name}): composed identity is {size} characters, over the "
                f"{IDENTITY_BUDGET} budget; shorten personality, voice or catchphrases"
            )
    return problems
