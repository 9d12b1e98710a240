"""Our entry-point reader finds what importlib.metadata finds, and reads keywords lazily."""

from __future__ import annotations

import importlib.metadata
import sys

from nanofolks_core import entry_points


def test_matches_importlib_metadata_for_this_environment():
    ours = [(e.name, e.value, e.dist_name, e.dist_version) for e in entry_points.scan("nanofolks.plugins")]
    theirs = sorted(
        (e.name, e.value, e.dist.name, e.dist.version)
        for e in importlib.metadata.entry_points(group="nanofolks.plugins")
    )
    assert ours == theirs
    assert ("core", "nanofolks_core.builtins.core") in [(n, v) for n, v, *_ in ours]


def test_reads_dist_info_and_egg_info_first_one_wins(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder, version in ((first, "2.0"), (second, "1.0")):
        meta = folder / f"demo_plugin-{version}.dist-info"
        meta.mkdir(parents=True)
        (meta / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: demo-plugin\nVersion: {version}\nKeywords: nanofolks,team\n\nKeywords: no\n"
        )
        (meta / "entry_points.txt").write_text(
            "[console_scripts]\nx = y:z\n\n# a comment\n[nanofolks.plugins]\ndemo = demo_plugin.plugin [extra]\n"
        )
    egg = first / "legacy.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.3\n\n")
    (egg / "entry_points.txt").write_text("[nanofolks.plugins]\nold = legacy_plugin\n")
    found = entry_points.scan("nanofolks.plugins", [str(first), str(second), str(tmp_path / "missing")])
    assert [(e.name, e.value, e.dist_name, e.dist_version) for e in found] == [
        ("demo", "demo_plugin.plugin", "demo-plugin", "2.0"),
        ("old", "legacy_plugin", "legacy", "0.3"),
    ]
    assert found[0].keywords() == ["nanofolks", "team"]


def test_load_imports_module_and_attribute(tmp_path, monkeypatch):
    (tmp_path / "ep_demo_mod.py").write_text("class Thing:\n    value = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = entry_points.PluginEntryPoint("x", "ep_demo_mod:Thing.value", "d", "1", str(tmp_path))
    assert ep.load() == 42
    sys.modules.pop("ep_demo_mod", None)
