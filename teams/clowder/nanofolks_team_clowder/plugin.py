"""Registers the Feral Clowder team. Light: the TOML is read only when the team is used."""

from nanofolks_core.api import TeamSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_teams(register):
    register(
        TeamSpec(
            name="clowder",
            title="Feral Clowder",
            summary="Feral Clowder: chaotic, cat-like",
            resource="nanofolks_team_clowder:team.toml",
        )
    )
