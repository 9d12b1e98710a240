"""The Feral Clowder plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.testing.checks import check_team_plugin


def test_clowder_team_is_discovered_complete_and_shown(cli_runner):
    team = check_team_plugin(
        "team-clowder",
        "clowder",
        title="Feral Clowder",
        vibe="Chaotic, cat-like",
        leader_alias="duchess",
        cli_runner=cli_runner,
    )
    assert team.name == "clowder"
