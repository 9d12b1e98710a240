"""The Space Crew plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.testing.checks import check_team_plugin


def test_space_team_is_discovered_complete_and_shown(cli_runner):
    team = check_team_plugin(
        "team-space",
        "space",
        title="Space Crew",
        vibe="Sci-fi, mission-focused",
        leader_alias="vega",
        cli_runner=cli_runner,
    )
    assert team.name == "space"
