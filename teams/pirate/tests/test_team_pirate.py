"""The Pirate Crew plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.testing.checks import check_team_plugin


def test_pirate_team_is_discovered_complete_and_shown(cli_runner):
    team = check_team_plugin(
        "team-pirate",
        "pirate",
        title="Pirate Crew",
        vibe="Bold, adventurous",
        leader_alias="blackbeard",
        cli_runner=cli_runner,
    )
    assert team.name == "pirate"
