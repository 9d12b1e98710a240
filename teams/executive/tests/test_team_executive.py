"""The Executive Suite plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.testing.checks import check_team_plugin


def test_executive_team_is_discovered_complete_and_shown(cli_runner):
    team = check_team_plugin(
        "team-executive",
        "executive",
        title="Executive Suite",
        vibe="Professional, corporate",
        leader_alias="diane",
        cli_runner=cli_runner,
    )
    assert team.name == "executive"
