"""The built-in team spec: data only, so both the ``core`` plugin (which registers it) and the
team loader (which falls back to it) can import it without importing each other."""

from __future__ import annotations

from nanofolks_core.specs import TeamSpec

#: The neutral team used when no other is chosen or the chosen one is unavailable.
DEFAULT_TEAM = TeamSpec(
    name="default",
    title="Default Crew",
    summary="Neutral, friendly and professional: the crew without a costume",
    resource="nanofolks_core.builtins:default_team.toml",
)
