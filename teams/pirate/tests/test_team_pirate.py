"""The Pirate Crew plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.crew import ROLE_ORDER, load_team, validate_team
from nanofolks_core.plugins import discover


def _team():
    host = discover(env={})
    assert host.records["team-pirate"].loaded, host.records["team-pirate"].reason
    assert host.registry.owner("team", "pirate") == "team-pirate"
    return load_team(host.registry.get("team", "pirate"))


def test_pirate_team_loads_with_six_distinct_characters():
    team = _team()
    assert (team.title, team.vibe) == ("Pirate Crew", "Bold, adventurous")
    assert list(team.characters) == list(ROLE_ORDER)
    assert len({character.greeting for character in team.characters.values()}) == 6
    # distinct names, voices and greetings; addresses for all crewmates; @names; prompt size
    assert validate_team(team) == []
    assert team.mention_map()["blackbeard"] == "leader"


def test_team_show_pirate_prints_the_characters(cli_runner):
    result = cli_runner(["team", "show", "pirate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Pirate Crew (pirate)")
    for character in _team().characters.values():
        assert f"{character.emoji}  {character.name} - " in result.output
        assert character.greeting in result.output
