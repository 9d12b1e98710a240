"""Registers the Space Crew team. Light: the TOML is read only when the team is used."""

from nanofolks_core.api import TeamSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_teams(register):
    register(
        TeamSpec(
            name="space",
            title="Space Crew",
            summary="Space Crew: sci-fi, mission-focused",
            resource="nanofolks_team_space:team.toml",
        )
    )
