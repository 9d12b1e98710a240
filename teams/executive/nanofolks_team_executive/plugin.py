"""Registers the Executive Suite team. Light: the TOML is read only when the team is used."""

from nanofolks_core.api import TeamSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_teams(register):
    register(
        TeamSpec(
            name="executive",
            title="Executive Suite",
            summary="Executive Suite: professional, corporate",
            resource="nanofolks_team_executive:team.toml",
        )
    )
