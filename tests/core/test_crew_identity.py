"""The identity system prompt: role + persona, workspace overrides, determinism and size."""

from __future__ import annotations

import pytest

from nanofolks_core.crew import DEFAULT_TEAM, IDENTITY_BUDGET, ROLE_ORDER, ROLES, compose_identity, load_team
from nanofolks_core.errors import NanofolksError, UsageError


@pytest.fixture
def team():
    return load_team(DEFAULT_TEAM)


def test_a_specialist_knows_its_role_persona_tools_and_crew(team):
    text = compose_identity("coder", team, None, tools=["read_file", "list_files", "word_count"])
    coder = team.character("coder")
    assert text.startswith("You are the Coder 💻 of the Default Crew (friendly, professional)")
    tools = "Tools: read_file, list_files, word_count."
    for expected in (coder.personality, coder.voice, *coder.catchphrases, ROLES["coder"].domain, tools):
        assert expected in text
    assert ROLES["coder"].instructions in text
    for other in ("@leader", "@researcher", "@social", "@creative", "@auditor"):
        assert other in text
    assert "hand back to the Leader (@leader)" in text
    assert "delegate" not in text.split("## Role")[1].split("Teamwork")[0].lower()
    assert "Stay in character" in text and "useful comes first" in text


def test_the_prompt_lists_exactly_the_tools_given_and_says_so_when_there_are_none(team):
    assert "Tools: none in this setup" in compose_identity("social", team, None, tools=[])
    assert "Tools:" not in compose_identity("social", team, None)  # previews: no tools line at all
    leader = compose_identity("leader", team, None, tools=["read_file"])
    assert "Tools: read_file." in leader and "delegate" not in leader.split("## Role")[1]


def test_the_leader_knows_when_to_delegate_to_each_specialist(team):
    text = compose_identity("@nanofolks", team, None, tools=["delegate", "read_file"])
    assert "Tools: delegate, read_file." in text
    for role in ROLE_ORDER[1:]:
        assert f"- @{role} when {ROLES[role].delegate_when}" in text
    assert "hand back" not in text


def test_identity_is_deterministic_compact_and_distinct_per_role(team):
    texts = {role: compose_identity(role, team, None) for role in ROLE_ORDER}
    assert texts == {role: compose_identity(role, team, None) for role in ROLE_ORDER}
    assert len(set(texts.values())) == 6
    assert max(len(text) for text in texts.values()) < IDENTITY_BUDGET


def test_addresses_are_shown_when_they_differ_from_the_name(team):
    import attrs

    leader = team.character("leader")
    dressed = attrs.evolve(
        team,
        characters={
            **team.characters,
            "leader": attrs.evolve(leader, addresses={**leader.addresses, "coder": "Chief Wrench"}),
        },
    )
    assert '(@coder), you call them "Chief Wrench"' in compose_identity("leader", dressed, None)
    assert "you call them" not in compose_identity("leader", team, None)


def test_workspace_files_replace_and_extend_the_identity(team, tmp_path):
    plain = compose_identity("coder", team, None)
    assert compose_identity("coder", team, tmp_path) == plain  # nothing there: nothing changes

    (tmp_path / "identity" / "default").mkdir(parents=True)
    (tmp_path / "identity" / "default" / "coder.md").write_text("You are Marvin, a gloomy robot.\n")
    (tmp_path / "soul").mkdir()
    (tmp_path / "soul" / "coder.md").write_text("You secretly love jazz.")
    (tmp_path / "bots").mkdir()
    (tmp_path / "bots" / "coder.md").write_text("Always answer in British English.")
    text = compose_identity("coder", team, tmp_path)
    assert text.startswith("You are Marvin, a gloomy robot.\n\n## Role: Coder")
    assert team.character("coder").personality not in text
    assert text.endswith(
        "## More about you\nYou secretly love jazz.\n\n## Extra instructions\nAlways answer in British English."
    )
    # other bots are untouched
    assert compose_identity("auditor", team, tmp_path).count("jazz") == 0

    (tmp_path / "role").mkdir()
    (tmp_path / "role" / "coder.md").write_text("## Role: Sysadmin\nYou keep servers alive.")
    text = compose_identity("coder", team, tmp_path)
    assert "## Role: Sysadmin\nYou keep servers alive." in text
    assert "Tools: read_file" not in text


def test_the_user_guide_folder_name_team_crew_works_too(team, tmp_path):
    (tmp_path / "identity" / "default_crew").mkdir(parents=True)
    (tmp_path / "identity" / "default_crew" / "social.md").write_text("You are Pip.")
    assert compose_identity("social", team, tmp_path).startswith("You are Pip.\n\n## Role: Social")


def test_blank_override_files_are_skipped_and_unreadable_ones_are_reported(team, tmp_path):
    (tmp_path / "soul").mkdir()
    (tmp_path / "soul" / "coder.md").write_text("  \n")
    assert compose_identity("coder", team, tmp_path) == compose_identity("coder", team, None)
    (tmp_path / "soul" / "coder.md").write_bytes(b"\xff\xfe caf\xe9")
    with pytest.raises(NanofolksError, match=r"soul/coder.md is not UTF-8 text"):
        compose_identity("coder", team, tmp_path)


def test_unknown_role_is_a_usage_error(team):
    with pytest.raises(UsageError, match="there is no role 'pilot'"):
        compose_identity("pilot", team, None)
