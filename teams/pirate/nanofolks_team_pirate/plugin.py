"""Registers the Pirate Crew team. Light: the TOML is read only when the team is used."""

from nanofolks_core.api import TeamSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_teams(register):
    register(
        TeamSpec(
            name="pirate",
            title="Pirate Crew",
            summary="Pirate Crew: bold, adventurous",
            resource="nanofolks_team_pirate:team.toml",
        )
    )
