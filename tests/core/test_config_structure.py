"""Config structuring without cattrs on the start-up path gives the same issues as the cattrs converter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs
import pytest

from nanofolks_core.config import Config, to_dict
from nanofolks_core.config_structure import structure_section
from nanofolks_core.secret import Secret


@attrs.define(kw_only=True)
class Price:
    input: float = attrs.field(default=0.0, validator=attrs.validators.ge(0))


@attrs.define(kw_only=True)
class Tier:
    model: str
    price: Price | None = None


@attrs.define(kw_only=True)
class Section:
    enabled: bool = False
    retries: int = attrs.field(default=3, validator=attrs.validators.ge(0))
    token: Secret | None = None
    allow_from: list[str] = attrs.Factory(list)
    tags: tuple[str, ...] = ()
    tiers: dict[str, Tier] = attrs.Factory(dict)
    extra: dict[str, Any] = attrs.Factory(dict)
    mode: Literal["a", "b"] = "a"  # no fast path for Literal: structured by cattrs


BAD = [
    {"enabled": 1, "retries": True, "allowFrom": ["x", 2], "tags": "t", "bogus": 1, "retrys": 2},
    {"retries": -1, "token": "", "tiers": {"simple": {"price": {"input": -1}}, "fast": {"model": 5}}},
    {"tiers": {"x": {"model": "m", "price": "cheap"}}, "allowFrom": {}, "mode": "c"},
    {"tiers": [], "extra": 3, "retries": float("nan")},
    "not an object",
]


@pytest.mark.parametrize("raw", BAD)
def test_every_problem_is_reported_with_its_key_path(raw):
    obj, issues = structure_section(raw, Section, "sec")
    assert obj is None and issues
    assert all(str(issue).startswith("sec") for issue in issues)


def test_issues_are_located_as_users_see_them():
    _, issues = structure_section(BAD[0], Section, "channels.sec")
    messages = [str(issue) for issue in issues]
    assert (
        "channels.sec.bogus: unknown key (known keys: enabled, retries, token, allowFrom, tags, tiers, extra, mode)"
        in messages
    )
    assert "channels.sec.retrys: unknown key (did you mean 'retries'?)" in messages
    assert "channels.sec.enabled: expected true or false, got 1" in messages
    assert "channels.sec.retries: expected a whole number, got true" in messages
    assert "channels.sec.allowFrom[1]: expected a string, got 2" in messages
    assert 'channels.sec.tags: expected a list, got "t"' in messages
    _, issues = structure_section(BAD[1], Section, "sec")
    messages = [str(issue) for issue in issues]
    assert "sec.tiers.simple: missing required key 'model'" in messages
    assert "sec.tiers.fast.model: expected a string, got 5" in messages
    assert any(m.startswith("sec.tiers.simple.price: 'input' must be >= 0") for m in messages)
    assert any(m.startswith("sec: 'retries' must be >= 0") for m in messages)


def test_attrs_classes_inside_a_type_only_cattrs_knows_are_located():
    @attrs.define(kw_only=True)
    class Holder:
        tiers: Sequence[Tier] = ()  # no fast path for Sequence: cattrs, then Tier on the fast path

    obj, issues = structure_section({"tiers": [{"model": "m"}]}, Holder, "h")
    assert issues == [] and obj.tiers[0].model == "m"
    _, issues = structure_section({"tiers": [{"model": "m"}, {"model": 1, "x": 2}]}, Holder, "h")
    assert sorted(map(str, issues)) == [
        "h.tiers[1].model: expected a string, got 1",
        "h.tiers[1].x: unknown key (known keys: model, price)",
    ]


def test_a_good_section_and_types_only_cattrs_knows():
    raw = {
        "enabled": True,
        "retries": 0,
        "token": "env:X",
        "allowFrom": ["a"],
        "tags": ["t"],
        "tiers": {"s": {"model": "m", "price": {"input": 1}}},
        "extra": {"k": [1]},
        "mode": "b",
    }
    obj, issues = structure_section(raw, Section, "sec")
    assert issues == []
    assert obj.tags == ("t",) and obj.tiers["s"].price.input == 1.0 and isinstance(obj.token, Secret)
    assert obj.mode == "b"
    _, issues = structure_section({**raw, "mode": "z"}, Section, "sec")
    assert [i.key for i in issues] == ["sec.mode"]


def test_config_show_still_unstructures_with_camel_case_keys():
    config, issues = structure_section({"agents": {"defaults": {"model": "m"}}}, Config, "")
    assert issues == []
    config.sections = {}
    data = to_dict(config)
    assert data["agents"]["defaults"]["model"] == "m"
