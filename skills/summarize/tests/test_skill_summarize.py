"""The summarize skill pack, discovered through its entry point and read the way the crew reads it."""

from __future__ import annotations

import json

from nanofolks_skill_summarize import plugin

from nanofolks_core.api import Services, ToolContext, import_object


def test_the_pack_is_discovered_and_listed_with_its_rating(cli_runner):
    plugins = {r["name"]: r for r in json.loads(cli_runner(["plugins", "list", "--all", "--json"]).stdout)}
    assert plugins["skill-summarize"]["state"] == "enabled"
    rows = {r["name"]: r for r in json.loads(cli_runner(["skills", "list", "--json"]).stdout)}
    row = rows["summarize"]
    assert row["source"] == "plugin:skill-summarize" and row["description"]
    if "skill-scanner" in plugins:  # rated when a scanner is installed ...
        assert row["risk"] == "Low"
        assert row["status"] == ("loaded" if row["risk"] == "Low" else "needs approval")
    else:  # ... and without one it waits for approval, unrated
        assert (row["risk"], row["status"]) == (None, "needs approval")


def test_the_crew_reads_the_whole_skill_on_demand_once_it_may_load(cli_runner, nanofolks_home):
    specs: list = []
    plugin.nanofolks_register_skills(specs.append)
    services = Services(
        plugin="core", data_root=nanofolks_home, registered=lambda kind: specs if kind == "skill" else []
    )
    context = ToolContext(room="general", bot="leader", workspace=nanofolks_home / "workspace", services=services)
    read_skill = import_object("nanofolks_core.skills.tool:read_skill")
    assert cli_runner(["skills", "approve", "summarize"]).exit_code == 0
    text = read_skill("summarize", context)
    assert text.startswith("---\nname: summarize\n") and "# Summarize" in text


def test_its_reference_file_is_listed_and_readable(cli_runner, nanofolks_home):
    specs: list = []
    plugin.nanofolks_register_skills(specs.append)
    services = Services(
        plugin="core", data_root=nanofolks_home, registered=lambda kind: specs if kind == "skill" else []
    )
    context = ToolContext(room="general", bot="leader", workspace=nanofolks_home / "workspace", services=services)
    read_skill = import_object("nanofolks_core.skills.tool:read_skill")
    cli_runner(["skills", "approve", "summarize"])
    assert "reference/styles.md" in read_skill("summarize", context)
    assert "## Minutes" in read_skill("summarize", context, file="reference/styles.md")
