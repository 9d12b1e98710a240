"""The SWAT Team plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.crew import ROLE_ORDER, load_team, validate_team
from nanofolks_core.plugins import discover


def _team():
    host = discover(env={})
    assert host.records["team-swat"].loaded, host.records["team-swat"].reason
    assert host.registry.owner("team", "swat") == "team-swat"
    return load_team(host.registry.get("team", "swat"))


def test_swat_team_loads_with_six_distinct_characters():
    team = _team()
    assert (team.title, team.vibe) == ("SWAT Team", "Tactical, precise")
    assert list(team.characters) == list(ROLE_ORDER)
    assert len({character.greeting for character in team.characters.values()}) == 6
    # distinct names, voices and greetings; addresses for all crewmates; @names; prompt size
    assert validate_team(team) == []
    assert team.mention_map()["hawk"] == "leader"


def test_team_show_swat_prints_the_characters(cli_runner):
    result = cli_runner(["team", "show", "swat"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SWAT Team (swat)")
    for character in _team().characters.values():
        assert f"{character.emoji}  {character.name} - " in result.output
        assert character.greeting in result.output
