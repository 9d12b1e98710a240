"""`nanofolks team ...` with a team plugin really discovered through its entry point."""

from __future__ import annotations

import importlib.resources
import json
import uuid

import pytest

from nanofolks_core.crew import clear_team_cache
from nanofolks_core.errors import NanofolksError, UsageError

DEFAULT_TEXT = importlib.resources.files("nanofolks_core.builtins").joinpath("default_team.toml").read_text("utf-8")
NAMES = {
    "Leader": "Ada Quill",
    "Researcher": "Rosa Lens",
    "Coder": "Gus Byte",
    "Social": "Maya Chatter",
    "Creative": "Frida Brush",
    "Auditor": "Ruth Ledger",
}


def team_text(broken: bool = False) -> str:
    text = DEFAULT_TEXT.replace('name = "default"', 'name = "testers"').replace('"Default Crew"', '"Test Crew"')
    for old, new in NAMES.items():
        text = text.replace(f'name = "{old}"', f'name = "{new}"')
    if broken:
        text = text.replace('voice = "Terse and concrete.', 'voyce = "Terse and concrete.')
    return text


def install_team_plugin(site, *, broken: bool = False) -> str:
    """A distribution nanofolks-team-testers (entry point team-testers) in ``site``; returns the package."""
    package = f"nanofolks_team_testers_{uuid.uuid4().hex[:8]}"
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text("")
    (site / package / "team.toml").write_text(team_text(broken), encoding="utf-8")
    (site / package / "plugin.py").write_text(
        "from nanofolks_core.api import TeamSpec, hookimpl\n\nNANOFOLKS_API = '1.0'\n\n\n@hookimpl\n"
        "def nanofolks_register_teams(register):\n"
        f"    register(TeamSpec(name='testers', title='Test Crew', resource='{package}:team.toml'))\n"
    )
    dist_info = site / "nanofolks_team_testers-0.0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: nanofolks-team-testers\nVersion: 0.0.1\nKeywords: nanofolks,team\n"
    )
    (dist_info / "entry_points.txt").write_text(f"[nanofolks.plugins]\nteam-testers = {package}.plugin\n")
    return package


@pytest.fixture
def site(tmp_path, monkeypatch):
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    yield path
    clear_team_cache()


@pytest.fixture
def testers(site):
    install_team_plugin(site)
    return site


def _config(home):
    return json.loads((home / "config.json").read_text())


def test_list_marks_the_active_team_and_names_its_plugin(testers, cli_runner):
    result = cli_runner(["team", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "TITLE", "VIBE", "PLUGIN"]
    assert next(line for line in lines if " default " in line).split()[:3] == ["*", "default", "Default"]
    assert next(line for line in lines if " testers " in line).split() == [
        "testers",
        "Test",
        "Crew",
        "Friendly,",
        "professional",
        "team-testers",
    ]

    rows = {row["name"]: row for row in json.loads(cli_runner(["team", "list", "--json"]).output)}
    assert rows["testers"] == {
        "name": "testers",
        "title": "Test Crew",
        "vibe": "Friendly, professional",
        "plugin": "team-testers",
        "active": False,
        "error": None,
    }
    assert rows["default"]["active"] and rows["default"]["plugin"] == "core"


def test_show_prints_the_six_characters(testers, cli_runner):
    result = cli_runner(["team", "show", "testers"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Test Crew (testers) - Friendly, professional\n")
    for name, role in zip(NAMES.values(), NAMES):
        assert f"{name} - {role}" in result.output
    assert "@leader @nanofolks @ada @ada-quill @quill" in result.output
    assert '"Hey, Coder here. Paste the error' in result.output

    data = json.loads(cli_runner(["team", "show", "testers", "--json"]).output)
    assert [c["role"] for c in data["characters"]] == ["leader", "researcher", "coder", "social", "creative", "auditor"]
    assert data["characters"][2]["name"] == "Gus Byte" and "@gus" in data["characters"][2]["mentions"]
    assert data["warning"] is None
    # without NAME: the active team
    assert cli_runner(["team", "show"]).output.startswith("Default Crew (default)")


def test_use_persists_the_team_and_keeps_the_rest_of_the_config(testers, cli_runner, nanofolks_home):
    (nanofolks_home / "config.json").write_text(json.dumps({"agents": {"defaults": {"temperature": 0.2}}}))
    result = cli_runner(["team", "use", "testers"])
    assert result.exit_code == 0, result.output
    assert "Team set to Test Crew (testers)" in result.output
    assert "Ada Quill" in result.output  # the new Leader says hello
    assert _config(nanofolks_home) == {"agents": {"defaults": {"temperature": 0.2}}, "team": "testers"}
    assert cli_runner(["team", "show"]).output.startswith("Test Crew (testers)")
    rows = {row["name"]: row for row in json.loads(cli_runner(["team", "list", "--json"]).output)}
    assert rows["testers"]["active"] and not rows["default"]["active"]
    assert "already the active team" in cli_runner(["team", "use", "testers"]).output


def test_use_unknown_team_is_a_usage_error_and_leaves_the_file_alone(testers, cli_runner, nanofolks_home):
    config = nanofolks_home / "config.json"
    config.write_text('{"team": "default"}\n')
    with pytest.raises(UsageError) as info:
        cli_runner(["team", "use", "tester"])
    message = str(info.value)
    assert "no team named 'tester'" in message and "default" in message and "testers" in message
    assert "Did you mean 'testers'?" in message
    assert config.read_text() == '{"team": "default"}\n'


def test_unknown_team_exits_2_without_traceback(testers, home, nanofolks_proc):
    run = nanofolks_proc(["team", "use", "nosuchteam"], home, extra_path=testers)
    assert run.code == 2
    assert "Error: no team named 'nosuchteam' is available. Available teams:" in run.err
    assert "testers" in run.err and "Traceback" not in run.err
    assert not (home / "config.json").exists()


def test_a_disabled_team_falls_back_to_default_with_a_warning(testers, cli_runner, nanofolks_home):
    assert cli_runner(["team", "use", "testers"]).exit_code == 0
    assert cli_runner(["plugins", "disable", "team-testers"]).exit_code == 0
    result = cli_runner(["team", "show"])
    assert result.exit_code == 0
    assert "Default Crew (default)" in result.stdout
    assert "team 'testers' is not available" in result.stderr
    assert "config.json selects team 'testers', which is not available" in cli_runner(["team", "list"]).output
    with pytest.raises(UsageError, match="Its plugin team-testers is disabled \\(config\\); enable it with"):
        cli_runner(["team", "use", "testers"])


def test_a_broken_team_is_listed_as_broken_and_cannot_be_chosen(site, cli_runner, nanofolks_home):
    install_team_plugin(site, broken=True)
    listing = cli_runner(["team", "list"]).output
    assert "(broken)" in listing
    assert "characters.coder.voyce: unknown key (did you mean 'voice'?)" in listing
    with pytest.raises(NanofolksError, match="characters.coder.voice: missing"):
        cli_runner(["team", "use", "testers"])
    assert not (nanofolks_home / "config.json").exists()
