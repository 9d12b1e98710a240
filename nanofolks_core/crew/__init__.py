"""The crew: six roles, the team personas that dress them, and each bot's identity prompt."""

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
    IDENTITY_BUDGET,
    RESERVED_MENTIONS,
    Character,
    Team,
    TeamFileError,
    clear_team_cache,
    load_team,
    name_aliases,
    resolve_team,
    slugify,
    validate_team,
)

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
