"""Team persona files: loading, validation errors people can act on, @mentions and the fallback."""

from __future__ import annotations

import importlib.resources
import sys
import uuid

import pytest

from nanofolks_core.api import TeamSpec
from nanofolks_core.builtins import core as core_plugin
from nanofolks_core.crew import (
    DEFAULT_TEAM,
    ROLE_ORDER,
    TeamFileError,
    clear_team_cache,
    load_team,
    resolve_team,
    validate_team,
)

DEFAULT_TEXT = importlib.resources.files("nanofolks_core.builtins").joinpath("default_team.toml").read_text("utf-8")

# A second team made from the default file: distinct character names, some sharing words on purpose.
RENAMES = {
    'name = "Leader"': 'name = "Ada Quill"',
    'name = "Researcher"': 'name = "Rosa Lens"',
    'name = "Coder"': 'name = "Coder Gus"',  # "coder" must stay the Coder role, whatever the name says
    'name = "Social"': 'name = "Maya Quill"',  # shares "quill" with the Leader: ambiguous, so dropped
    'name = "Creative"': 'name = "All Brush"',  # "all" is reserved for @all
    'name = "Auditor"': 'name = "Ruth Ledger"',
}


CODER_GREETING = (
    'greeting = "Hey, Coder here. Paste the error or describe what you want to build and we\'ll get it working."'
)
NO_CODER_GREETING = {CODER_GREETING: 'greeting = ""'}


def team_text(name: str = "testers", **replacements: str) -> str:
    text = DEFAULT_TEXT.replace('name = "default"', f'name = "{name}"').replace('"Default Crew"', '"Test Crew"')
    for old, new in {**RENAMES, **replacements}.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture
def make_team(tmp_path, monkeypatch):
    """Write a team file into a fresh importable package; returns its TeamSpec."""
    created: list[str] = []

    def make(text: str, name: str = "testers") -> TeamSpec:
        package = f"nanofolks_team_test_{uuid.uuid4().hex[:8]}"
        folder = tmp_path / package
        folder.mkdir()
        (folder / "__init__.py").write_text("")
        (folder / "team.toml").write_text(text, encoding="utf-8")
        created.append(package)
        return TeamSpec(name=name, title="Test Crew", resource=f"{package}:team.toml")

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for package in created:
        sys.modules.pop(package, None)
    clear_team_cache()


@pytest.fixture
def core_registry(register_plugin):
    return register_plugin(core_plugin, "core")


def test_the_core_registers_a_neutral_default_team_with_six_characters(core_registry):
    assert core_registry.owner("team", "default") == "core"
    team = load_team(core_registry.get("team", "default"))
    assert (team.name, team.title) == ("default", "Default Crew")
    assert list(team.characters) == list(ROLE_ORDER)
    assert validate_team(team) == []
    assert len({character.greeting for character in team.characters.values()}) == 6


def test_a_team_file_loads_into_characters_with_addresses(make_team):
    boss = {'[characters.coder.addresses]\nleader = "Leader"': '[characters.coder.addresses]\nleader = "Boss"'}
    team = load_team(make_team(team_text(**boss)))
    assert team.title == "Test Crew"
    coder = team.character("coder")
    assert (coder.role, coder.name, coder.emoji) == ("coder", "Coder Gus", "💻")
    assert coder.catchphrases == ("Let's reproduce it first.", "Smallest change that works.")
    assert coder.address_for("leader", "?") == "Boss"
    assert team.character("researcher").address_for("leader", "?") == "Leader"


def test_mention_map_reaches_characters_by_name_without_shadowing_roles(make_team):
    mentions = load_team(make_team(team_text())).mention_map()
    assert mentions["ada-quill"] == "leader" and mentions["ada"] == "leader"
    assert mentions["ledger"] == "auditor" and mentions["ruth-ledger"] == "auditor"
    assert mentions["gus"] == "coder" and mentions["coder-gus"] == "coder"
    # role names and mentions always win
    for role in ROLE_ORDER:
        assert mentions[role] == role
    assert mentions["nanofolks"] == "leader"
    assert "quill" not in mentions  # Ada Quill and Maya Quill: ambiguous
    assert "all" not in mentions  # reserved for @all
    assert mentions["brush"] == "creative"


def test_loaded_teams_are_cached_per_process(make_team, tmp_path):
    spec = make_team(team_text())
    first = load_team(spec)
    (tmp_path / spec.resource.split(":")[0] / "team.toml").write_text("broken = [", encoding="utf-8")
    assert load_team(spec) is first
    clear_team_cache()
    with pytest.raises(TeamFileError):
        load_team(spec)


@pytest.mark.parametrize(
    ("replacements", "expected"),
    [
        (NO_CODER_GREETING, "characters.coder.greeting: must be a non-empty string"),
        (
            {'personality = "Fair, thorough': 'personalty = "Fair, thorough'},
            "characters.auditor.personalty: unknown key (did you mean 'personality'?)",
        ),
        (
            {'catchphrases = ["Checked, with evidence.", "One real risk beats ten nitpicks."]': "catchphrases = []"},
            "characters.auditor.catchphrases: must be a non-empty list",
        ),
        ({"[characters.auditor": "[characters.auditer"}, "characters.auditor: missing"),
        ({'title = "Test Crew"': 'title = ""'}, "title: must be a non-empty string"),
        ({'name = "testers"': 'name = "pirates"'}, "name: is 'pirates' but the plugin registers the team as 'testers'"),
        (
            {"[characters.leader.addresses]\nresearcher": '[characters.leader.addresses]\npilot = "x"\nresearcher'},
            "characters.leader.addresses.pilot: unknown key",
        ),
    ],
)
def test_a_broken_team_names_the_team_the_file_and_the_key(make_team, replacements, expected):
    text = team_text()
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    spec = make_team(text)
    with pytest.raises(TeamFileError) as info:
        load_team(spec)
    message = str(info.value)
    assert "team 'testers'" in message
    assert f"{spec.resource.split(':')[0]}/team.toml" in message
    assert expected in message


def test_invalid_toml_and_missing_files_are_reported_with_the_file(make_team):
    spec = make_team('name = "testers"\ntitle = \nvibe = "x"\n')
    with pytest.raises(TeamFileError, match=r"team.toml is not valid TOML.*line 2"):
        load_team(spec)
    missing = TeamSpec(name="ghost", resource=f"{spec.resource.split(':')[0]}:nope.toml")
    with pytest.raises(TeamFileError, match=r"team 'ghost': its file .*nope.toml does not exist"):
        load_team(missing)
    with pytest.raises(TeamFileError, match="package 'no_such_pkg_here'"):
        load_team(TeamSpec(name="ghost", resource="no_such_pkg_here:team.toml"))


def test_resolve_team_falls_back_to_default_with_a_warning(core_registry, register_plugin, make_team):
    team, warning = resolve_team(core_registry, "pirate")
    assert team.name == "default"
    assert "team 'pirate' is not available" in warning and "nanofolks team use" in warning

    good = make_team(team_text())
    broken = make_team(team_text(name="wrecked", **NO_CODER_GREETING), name="wrecked")

    class TeamsPlugin:
        from nanofolks_core.api import hookimpl

        @hookimpl
        def nanofolks_register_teams(self, register):
            register(good)
            register(broken)

    registry = register_plugin(TeamsPlugin(), "team-testers")
    assert resolve_team(registry, "testers") == (load_team(good), None)
    team, warning = resolve_team(registry, "wrecked")
    assert team.name == "default"
    assert "characters.coder.greeting" in warning


def test_resolve_team_survives_a_replaced_default_that_is_broken(register_plugin, make_team):
    broken_default = make_team(team_text(name="default", **NO_CODER_GREETING), name="default")

    class Replacement:
        from nanofolks_core.api import hookimpl

        @hookimpl
        def nanofolks_register_teams(self, register):
            register(broken_default)

    registry = register_plugin(Replacement(), "team-bad-default")
    team, warning = resolve_team(registry, "default")
    assert team == load_team(DEFAULT_TEAM)
    assert "characters.coder.greeting" in warning


def test_validate_team_reports_what_makes_a_team_worse(make_team):
    sameness = team_text(
        **{
            "Give me a question and I'll come back with what the evidence says.": "Tell me what you need and I'll make "
            "sure the right person handles it.",
            "Hello! I'm the Researcher.": "Hi, I'm the Leader of your crew.",
            '[characters.coder.addresses]\nleader = "Leader"\n': "[characters.coder.addresses]\n",
            'personality = "Playful and generous': 'personality = "' + "Very long. " * 200 + "Playful and generous",
        }
    )
    problems = validate_team(load_team(make_team(sameness)))
    assert any("have the same greeting" in p for p in problems)
    assert "coder (Coder Gus) does not say how it addresses: leader" in problems
    assert any(p.startswith("creative (All Brush): composed identity is") for p in problems)
