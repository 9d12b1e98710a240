"""The Space Crew plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.crew import ROLE_ORDER, load_team, validate_team
from nanofolks_core.plugins import discover


def _team():
    host = discover(env={})
    assert host.records["team-space"].loaded, host.records["team-space"].reason
    assert host.registry.owner("team", "space") == "team-space"
    return load_team(host.registry.get("team", "space"))


def test_space_team_loads_with_six_distinct_characters():
    team = _team()
    assert (team.title, team.vibe) == ("Space Crew", "Sci-fi, mission-focused")
    assert list(team.characters) == list(ROLE_ORDER)
    assert len({character.greeting for character in team.characters.values()}) == 6
    # distinct names, voices and greetings; addresses for all crewmates; @names; prompt size
    assert validate_team(team) == []
    assert team.mention_map()["vega"] == "leader"


def test_team_show_space_prints_the_characters(cli_runner):
    result = cli_runner(["team", "show", "space"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Space Crew (space)")
    for character in _team().characters.values():
        assert f"{character.emoji}  {character.name} - " in result.output
        assert character.greeting in result.output
