"""Registers the SWAT Team team. Light: the TOML is read only when the team is used."""

from nanofolks_core.api import TeamSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_teams(register):
    register(
        TeamSpec(
            name="swat",
            title="SWAT Team",
            summary="SWAT Team: tactical, precise",
            resource="nanofolks_team_swat:team.toml",
        )
    )
