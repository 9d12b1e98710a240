"""The Feral Clowder plugin, discovered through its entry point and used as a person would."""

from nanofolks_core.crew import ROLE_ORDER, load_team, validate_team
from nanofolks_core.plugins import discover


def _team():
    host = discover(env={})
    assert host.records["team-clowder"].loaded, host.records["team-clowder"].reason
    assert host.registry.owner("team", "clowder") == "team-clowder"
    return load_team(host.registry.get("team", "clowder"))


def test_clowder_team_loads_with_six_distinct_characters():
    team = _team()
    assert (team.title, team.vibe) == ("Feral Clowder", "Chaotic, cat-like")
    assert list(team.characters) == list(ROLE_ORDER)
    assert len({character.greeting for character in team.characters.values()}) == 6
    # distinct names, voices and greetings; addresses for all crewmates; @names; prompt size
    assert validate_team(team) == []
    assert team.mention_map()["duchess"] == "leader"


def test_team_show_clowder_prints_the_characters(cli_runner):
    result = cli_runner(["team", "show", "clowder"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Feral Clowder (clowder)")
    for character in _team().characters.values():
        assert f"{character.emoji}  {character.name} - " in result.output
        assert character.greeting in result.output
