"""The six crew roles and the intent keywords a dispatcher uses to pick specialists."""

from __future__ import annotations

import pytest

from nanofolks_core.crew import LEADER, ROLE_ORDER, ROLES, get_role, keyword_hits, suggest_specialists
from nanofolks_core.errors import UsageError


def test_six_roles_leader_first_each_with_substance():
    assert ROLE_ORDER == ("leader", "researcher", "coder", "social", "creative", "auditor")
    for name, role in ROLES.items():
        assert role.name == name
        assert role.title and role.domain and role.instructions and role.delegate_when
        assert len(role.good_at) >= 3 and len(role.keywords) >= 5
        assert role.mentions[0] == name
    assert ROLES[LEADER].mentions == ("leader", "nanofolks")


def test_only_the_leader_may_delegate_and_the_built_in_tools_reach_their_roles(register_plugin):
    from nanofolks_core.builtins import core as core_plugin
    from nanofolks_core.pipeline.tool_calls import may_delegate

    assert [name for name in ROLE_ORDER if may_delegate(name)] == ["leader"]
    registry = register_plugin(core_plugin, "core")
    everyone = ["read_tool_output", "read_skill"]
    expected = {
        "leader": ["read_file", "list_files", *everyone],
        "researcher": ["read_file", "list_files", *everyone],
        "coder": ["read_file", "list_files", "write_file", *everyone],
        "social": ["read_file", *everyone],  # a writer has no business writing files or listing folders
        "creative": ["write_file", *everyone],
        "auditor": ["read_file", "list_files", *everyone],
    }
    names = ["read_file", "list_files", "write_file", *everyone]
    offered = {role: [n for n in names if registry.get("tool", n).offered_to(role)] for role in ROLE_ORDER}
    assert offered == expected


@pytest.mark.parametrize(
    ("typed", "role"),
    [
        ("coder", "coder"),
        ("@Coder", "coder"),
        ("nanofolks", "leader"),
        ("@nanofolks", "leader"),
        (" AUDITOR ", "auditor"),
    ],
)
def test_get_role_accepts_names_and_mentions_in_any_case(typed, role):
    assert get_role(typed).name == role


def test_get_role_unknown_name_lists_the_valid_roles():
    with pytest.raises(UsageError) as info:
        get_role("pilot")
    message = str(info.value)
    assert "'pilot'" in message
    assert "leader, researcher, coder, social, creative, auditor" in message


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("There's a bug in my Python function, here is the stack trace", ["coder"]),
        ("Research the market and compare our three biggest competitors", ["researcher"]),
        ("Brainstorm a logo and a name for my bakery", ["creative"]),
        ("Write a tweet to announce the launch to our community", ["social"]),
        ("Please review the contract and check it for GDPR compliance", ["auditor"]),
        ("Debug this error, then write tests and review the fix", ["coder", "auditor"]),
        ("Hello! How was your weekend?", []),
    ],
)
def test_suggest_specialists_picks_the_roles_a_person_would(message, expected):
    assert suggest_specialists(message) == expected


def test_keywords_match_whole_words_and_plurals_only():
    assert keyword_hits("a testament to posterity, nothing more") == {}
    assert keyword_hits("two bugs and three tweets") == {"coder": 1, "social": 1}
    assert keyword_hits("he read the STACK   TRACE") == {"coder": 1}


def test_ranking_prefers_the_role_with_more_distinct_keywords():
    # one creative word against three research words
    assert suggest_specialists("Analyze market data and find a name") == ["researcher", "creative"]
