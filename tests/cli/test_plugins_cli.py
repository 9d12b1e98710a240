"""`nanofolks plugins ...` against really installed plugin distributions, in fresh processes."""

from __future__ import annotations

import json


def _rows(run):
    return {row["name"]: row for row in json.loads(run.out)}


def test_list_shows_installed_plugins_with_version_kinds_state_distribution(home, fixture_site, nanofolks_proc):
    run = nanofolks_proc(["plugins", "list"], home, extra_path=fixture_site)
    assert run.code == 0, run.err
    header = run.out.splitlines()[0].split()
    assert header == ["NAME", "VERSION", "KINDS", "STATE", "DISTRIBUTION"]
    marker = next(line for line in run.out.splitlines() if line.startswith("marker "))
    assert marker.split() == ["marker", "0.0.3", "command,secret-pattern", "enabled", "nanofolks-fixture-marker"]

    rows = _rows(nanofolks_proc(["plugins", "list", "--json"], home, extra_path=fixture_site))
    assert rows["marker"]["version"] == "0.0.3"
    assert rows["marker"]["kinds"] == ["command", "secret-pattern"]
    assert rows["marker"]["state"] == "enabled"
    assert rows["marker"]["distribution"] == "nanofolks-fixture-marker"
    assert "core" not in rows  # built-ins only with --all
    assert "core" in _rows(nanofolks_proc(["plugins", "list", "--all", "--json"], home, extra_path=fixture_site))


def test_broken_plugins_are_reported_and_everything_else_keeps_working(home, fixture_site, nanofolks_proc):
    run = nanofolks_proc(["plugins", "list", "--json"], home, extra_path=fixture_site)
    assert run.code == 0, run.err
    rows = _rows(run)
    assert rows["broken-import"]["state"] == "failed"
    assert "RuntimeError: this fixture plugin is broken on purpose" in rows["broken-import"]["reason"]
    assert rows["broken-hook"]["state"] == "failed"
    assert "registration exploded on purpose" in rows["broken-hook"]["reason"]
    # the plugin that broke half-way registered nothing
    info = nanofolks_proc(["plugins", "info", "broken-hook", "--json"], home, extra_path=fixture_site)
    assert json.loads(info.out)["contributions"] == {}

    table = nanofolks_proc(["plugins", "list"], home, extra_path=fixture_site)
    assert "broken-import failed: import failed: RuntimeError" in table.out
    assert "Traceback" not in table.out + table.err

    assert nanofolks_proc(["--version"], home, extra_path=fixture_site).out.startswith("nanofolks ")
    assert nanofolks_proc(["marker"], home, extra_path=fixture_site).out.strip() == "marker plugin says hi"
    assert nanofolks_proc(["config", "lint"], home, extra_path=fixture_site).code == 0
    disabled = nanofolks_proc(["plugins", "disable", "broken-import"], home, extra_path=fixture_site)
    assert disabled.code == 0, disabled.err
    assert (
        _rows(nanofolks_proc(["plugins", "list", "--json"], home, extra_path=fixture_site))["broken-import"]["state"]
        == "disabled (config)"
    )


def test_strict_mode_surfaces_the_error(home, fixture_site, nanofolks_proc):
    run = nanofolks_proc(["plugins", "list"], home, extra_path=fixture_site, env={"NANOFOLKS_STRICT_PLUGINS": "1"})
    assert run.code != 0
    assert "broken" in run.err and "on purpose" in run.err


def test_disable_persists_and_module_is_never_imported(home, fixture_site, tmp_path, nanofolks_proc):
    marker_file = tmp_path / "imports.log"
    env = {"NANOFOLKS_FIXTURE_MARKER": str(marker_file)}
    run = nanofolks_proc(["plugins", "disable", "marker"], home, extra_path=fixture_site, env=env)
    assert run.code == 0, run.err
    assert "marker disabled" in run.out
    assert json.loads((home / "config.json").read_text())["plugins"]["disabled"] == ["marker"]

    listed = nanofolks_proc(["plugins", "list", "--json"], home, extra_path=fixture_site, env=env)
    row = _rows(listed)["marker"]
    assert row["state"] == "disabled (config)"
    assert row["kinds"] == ["command", "secret-pattern"]  # from the distribution's keywords, no import
    assert nanofolks_proc(["marker"], home, extra_path=fixture_site, env=env).code != 0
    assert not marker_file.exists(), "a disabled plugin's module was imported"

    enabled = nanofolks_proc(["plugins", "enable", "marker"], home, extra_path=fixture_site, env=env)
    assert enabled.code == 0
    assert (
        _rows(nanofolks_proc(["plugins", "list", "--json"], home, extra_path=fixture_site, env=env))["marker"]["state"]
        == "enabled"
    )
    assert marker_file.read_text().count("imported") == 1


def test_env_overrides_config(home, fixture_site, nanofolks_proc):
    rows = _rows(
        nanofolks_proc(
            ["plugins", "list", "--json"], home, extra_path=fixture_site, env={"NANOFOLKS_DISABLE_PLUGINS": "marker"}
        )
    )
    assert rows["marker"]["state"] == "disabled (env)"
    rows = _rows(
        nanofolks_proc(
            ["plugins", "list", "--json"], home, extra_path=fixture_site, env={"NANOFOLKS_LOAD_PLUGINS": "marker"}
        )
    )
    assert rows["marker"]["state"] == "enabled"
    assert rows["broken-import"]["state"] == "disabled (env)"


def test_essential_and_unknown_names_are_refused(home, fixture_site, nanofolks_proc):
    run = nanofolks_proc(["plugins", "disable", "core"], home, extra_path=fixture_site)
    assert run.code == 2
    assert "essential" in run.err
    run = nanofolks_proc(["plugins", "disable", "markr"], home, extra_path=fixture_site)
    assert run.code == 2
    assert "no plugin named 'markr'" in run.err and "Did you mean 'marker'" in run.err
    assert not (home / "config.json").exists()


def test_info_and_doctor(home, fixture_site, nanofolks_proc):
    info = nanofolks_proc(["plugins", "info", "marker"], home, extra_path=fixture_site)
    assert info.code == 0
    assert "command" in info.out and "marker - Say the marker plugin is alive" in info.out
    doctor = nanofolks_proc(["plugins", "doctor", "--json"], home, extra_path=fixture_site)
    rows = json.loads(doctor.out)
    assert doctor.code == 1  # the broken fixtures are errors
    assert any(r["plugin"] == "broken-import" and r["error"] for r in rows)
    core_rows = [r for r in rows if r["plugin"] == "core"]
    assert core_rows and all(r["error"] is None for r in core_rows)


def test_a_plugin_cannot_take_over_another_plugins_team(home, fixture_site, nanofolks_proc):
    """The impostor fixture registers `pirate` and `default`: team-pirate and the built-in keep them."""
    listed = nanofolks_proc(["plugins", "list", "--all"], home, extra_path=fixture_site)
    assert listed.code == 0, listed.err
    assert (
        "warning: team 'default' is registered by both core and impostor: core's is used (built-in), "
        "impostor's is ignored" in listed.out
    )
    rows = _rows(nanofolks_proc(["plugins", "list", "--all", "--json"], home, extra_path=fixture_site))
    assert rows["core"]["contributions"]["team"] == ["default"]
    if "team-pirate" in rows:  # installed in the dev environment before the fixture site
        assert "warning: team 'pirate' is registered by both team-pirate and impostor" in listed.out
        assert rows["team-pirate"]["kinds"] == ["team"]  # not "events"
        assert rows["team-pirate"]["contributions"] == {"team": ["pirate"]}
        used = nanofolks_proc(["team", "use", "pirate"], home, extra_path=fixture_site)
        assert used.code == 0 and "Pirate Crew" in used.out
        assert "warning: team 'pirate' is registered by both team-pirate and impostor" in used.err
    assert rows["impostor"]["kinds"] == ["team"]
    assert rows["impostor"]["contributions"] == {}
    info = nanofolks_proc(["plugins", "info", "impostor"], home, extra_path=fixture_site)
    assert "warning:  team 'default' is registered by both core and impostor" in info.out


def test_a_hook_switched_off_at_run_time_shows_as_failed_until_enabled(home, fixture_site, nanofolks_proc, llm_server):
    import pytest

    pytest.importorskip("nanofolks_provider_litellm")
    (home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"model": "vllm/test-model"}},
                "providers": {"vllm": {"apiBase": llm_server.base_url}},
            }
        )
    )
    # its wrapper works on the real path: the server receives the redacted request
    wrapped = nanofolks_proc(["chat", "-m", "the password is swordfish"], home, extra_path=fixture_site)
    assert wrapped.code == 0, wrapped.err
    sent = json.dumps(llm_server.requests[-1]["messages"])
    assert "the password is [redacted]" in sent and "swordfish" not in sent
    info = nanofolks_proc(["plugins", "info", "raising-hook"], home, extra_path=fixture_site)
    assert "nanofolks_before_llm_call (wrapper, tryfirst)" in info.out

    chat = nanofolks_proc(["chat", "-m", "hello"], home, extra_path=fixture_site, env={"NANOFOLKS_FIXTURE_RAISE": "1"})
    assert chat.code == 0, chat.err
    assert "warning: plugin raising-hook was switched off: nanofolks_message_in raised RuntimeError" in chat.err
    state_file = home / "plugin-failures.json"
    assert state_file.stat().st_mode & 0o777 == 0o600

    listed = nanofolks_proc(["plugins", "list"], home, extra_path=fixture_site)
    row = next(line for line in listed.out.splitlines() if line.startswith("raising-hook "))
    assert row.split()[3] == "failed"
    assert "raising-hook failed: switched off at run time" in listed.out
    assert "message_in broke on purpose" in listed.out
    doctor = json.loads(nanofolks_proc(["plugins", "doctor", "--json"], home, extra_path=fixture_site).out)
    assert any(r["plugin"] == "raising-hook" and "broke on purpose" in r["error"] for r in doctor)

    enabled = nanofolks_proc(["plugins", "enable", "raising-hook"], home, extra_path=fixture_site)
    assert enabled.code == 0 and "switch-off was cleared" in enabled.out
    rows = _rows(nanofolks_proc(["plugins", "list", "--json"], home, extra_path=fixture_site))
    assert rows["raising-hook"]["state"] == "enabled"
    assert rows["raising-hook"]["kinds"] == ["events"]
