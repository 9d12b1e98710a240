"""The SWAT Team plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.testing.checks import check_team_plugin


def test_swat_team_is_discovered_complete_and_shown(cli_runner):
    team = check_team_plugin(
        "team-swat", "swat", title="SWAT Team", vibe="Tactical, precise", leader_alias="hawk", cli_runner=cli_runner
    )
    assert team.name == "swat"
