from __future__ import annotations

import attrs
import pytest

from nanofolks_core.api import (
    ChannelSpec,
    ConfigSectionSpec,
    ProviderSpec,
    RouterSpec,
    SecretPatternSpec,
    SkillSpec,
    TeamSpec,
)
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


@pytest.mark.parametrize(
    "resource", ["pkg:data/team.toml", "my_team.sub:team.toml", "pkg:skills/summarise/", "pkg:data/my-team.v2.toml"]
)
def test_resources_are_package_and_relative_path(resource):
    assert TeamSpec(name="t", resource=resource).resource == resource
    assert SkillSpec(name="s", resource=resource).resource == resource


@pytest.mark.parametrize("resource", ["pkg", "pkg:", ":data/team.toml", "pkg:/etc/passwd", "pkg:../up.toml", "a b:x"])
def test_bad_resources_say_the_form(resource):
    with pytest.raises(ValueError, match=r"package resource of the form 'package:relative/path'"):
        TeamSpec(name="t", resource=resource)


def test_every_kind_names_a_registration_hookspec_and_the_registry_derives_from_it():
    from nanofolks_core import hookspecs
    from nanofolks_core.registry import KIND_HOOKS
    from nanofolks_core.specs import SPEC_CLASSES

    registration_hooks = {name for name in dir(hookspecs) if name.startswith("nanofolks_register_")}
    assert {cls.hook for cls in SPEC_CLASSES} == registration_hooks
    assert len({cls.kind for cls in SPEC_CLASSES}) == len(SPEC_CLASSES)
    assert KIND_HOOKS == {cls.kind: (cls.hook, cls) for cls in SPEC_CLASSES}
    for cls in SPEC_CLASSES:  # the hookspec's annotation names the spec class it takes
        assert cls.__name__ in str(getattr(hookspecs, cls.hook).__annotations__["register"])


def test_router_spec_owns_the_routing_section():
    section = type("RoutingSection", (), {})
    section = attrs.define(section)
    assert RouterSpec(name="tiers", factory="a.b:C").config_section() is None
    assert RouterSpec(name="tiers", factory="a.b:C", config_class=section).config_section() == "routing"
    assert RouterSpec.kind == "router" and RouterSpec.hook == "nanofolks_register_routers"


def test_runtime_specs_build_with_spec_config_and_services(tmp_path):
    from nanofolks_core.api import Services

    spec = ProviderSpec(name="p", factory="types:SimpleNamespace")
    services = Services(plugin="p", data_root=tmp_path)
    built = spec.build("CONFIG", services)
    assert (built.spec, built.config, built.services) == (spec, "CONFIG", services)
