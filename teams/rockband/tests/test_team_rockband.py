"""The Rock Band plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.testing.checks import check_team_plugin


def test_rockband_team_is_discovered_complete_and_shown(cli_runner):
    team = check_team_plugin(
        "team-rockband",
        "rockband",
        title="Rock Band",
        vibe="Creative, energetic",
        leader_alias="roxy",
        cli_runner=cli_runner,
    )
    assert team.name == "rockband"
