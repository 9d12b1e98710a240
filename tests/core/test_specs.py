from __future__ import annotations

import pytest

from nanofolks_core.api import ChannelSpec, ConfigSectionSpec, ProviderSpec, SecretPatternSpec, TeamSpec
from nanofolks_core.api_version import is_compatible


@pytest.mark.parametrize("name", ["", "Telegram", "two words", "-x", "x" * 64])
def test_bad_names_are_rejected_with_the_rule(name):
    with pytest.raises(ValueError, match="lowercase letters"):
        ChannelSpec(name=name, factory="a.b:C")


@pytest.mark.parametrize("factory", ["a.b.C", "a.b:", ":C", "a b:C"])
def test_factory_must_be_an_import_string(factory):
    with pytest.raises(ValueError, match="package.module:attribute"):
        ChannelSpec(name="x", factory=factory)


def test_bad_regex_names_the_pattern():
    with pytest.raises(ValueError, match="secret pattern 'bad' is not a valid regular expression"):
        SecretPatternSpec(name="bad", pattern="(unclosed")


def test_config_section_paths_and_lazy_load():
    spec = ProviderSpec(name="vllm", factory="json:loads", env_keys=["VLLM_API_KEY"])
    assert spec.env_keys == ("VLLM_API_KEY",)
    assert spec.config_section() is None  # no config class, no section
    import json

    assert spec.load() is json.loads
    assert TeamSpec(name="pirate", resource="pkg:team.toml").kind == "team"
    with pytest.raises(ValueError, match="dotted lowercase names"):
        ConfigSectionSpec(path="Routing", config_class=type("X", (), {}))


@pytest.mark.parametrize(("declared", "ok"), [("1.0", True), ("1", True), ("1.1", False), ("2.0", False), ("x", False)])
def test_api_compatibility(declared, ok):
    assert is_compatible(declared, "1.0") is ok
