"""Registers the Rock Band team. Light: the TOML is read only when the team is used."""

from nanofolks_core.api import TeamSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_teams(register):
    register(
        TeamSpec(
            name="rockband",
            title="Rock Band",
            summary="Rock Band: creative, energetic",
            resource="nanofolks_team_rockband:team.toml",
        )
    )
