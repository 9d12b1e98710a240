"""The Rock Band plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.crew import ROLE_ORDER, load_team, validate_team
from nanofolks_core.plugins import discover


def _team():
    host = discover(env={})
    assert host.records["team-rockband"].loaded, host.records["team-rockband"].reason
    assert host.registry.owner("team", "rockband") == "team-rockband"
    return load_team(host.registry.get("team", "rockband"))


def test_rockband_team_loads_with_six_distinct_characters():
    team = _team()
    assert (team.title, team.vibe) == ("Rock Band", "Creative, energetic")
    assert list(team.characters) == list(ROLE_ORDER)
    assert len({character.greeting for character in team.characters.values()}) == 6
    # distinct names, voices and greetings; addresses for all crewmates; @names; prompt size
    assert validate_team(team) == []
    assert team.mention_map()["roxy"] == "leader"


def test_team_show_rockband_prints_the_characters(cli_runner):
    result = cli_runner(["team", "show", "rockband"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Rock Band (rockband)")
    for character in _team().characters.values():
        assert f"{character.emoji}  {character.name} - " in result.output
        assert character.greeting in result.output
