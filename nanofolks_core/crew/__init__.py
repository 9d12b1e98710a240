"""The crew: six roles, the team personas that dress them, each bot's identity prompt, and
:class:`Crew` (``nanofolks_core.crew.crew``), which runs messages through the pipeline."""

from typing import TYPE_CHECKING, Any

from nanofolks_core.crew.identity import compose_identity
from nanofolks_core.crew.roles import (
    LEADER,
    ROLE_MENTIONS,
    ROLE_ORDER,
    ROLES,
    Role,
    get_role,
    keyword_hits,
    suggest_specialists,
)
from nanofolks_core.crew.team import (
    DEFAULT_TEAM,
    DEFAULT_TEAM_NAME,
    RESERVED_MENTIONS,
    Character,
    Team,
    TeamFileError,
    clear_team_cache,
    load_team,
    name_aliases,
    resolve_team,
    slugify,
)
from nanofolks_core.crew.validation import IDENTITY_BUDGET, validate_team

if TYPE_CHECKING:
    from nanofolks_core.crew.crew import Crew


def __getattr__(name: str) -> Any:
    # The crew pulls in the whole pipeline; importing a role or a team must stay cheap.
    if name == "Crew":
        from nanofolks_core.crew.crew import Crew

        return Crew
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TEAM",
    "DEFAULT_TEAM_NAME",
    "IDENTITY_BUDGET",
    "LEADER",
    "RESERVED_MENTIONS",
    "ROLES",
    "ROLE_MENTIONS",
    "ROLE_ORDER",
    "Character",
    "Crew",
    "Role",
    "Team",
    "TeamFileError",
    "clear_team_cache",
    "compose_identity",
    "get_role",
    "keyword_hits",
    "load_team",
    "name_aliases",
    "resolve_team",
    "slugify",
    "suggest_specialists",
    "validate_team",
]
