"""Bad config files: every command names the file, the key path and the problem; nothing is changed."""

from __future__ import annotations

import json

import pytest

BAD_FILES = {
    "unknown key": (
        '{"agents": {"defaults": {"modle": "vllm/x"}}}',
        "agents.defaults.modle: unknown key (did you mean 'model'?)",
    ),
    "wrong type": (
        '{"agents": {"defaults": {"maxTokens": "lots"}}}',
        'agents.defaults.maxTokens: expected a whole number, got "lots"',
    ),
    "invalid json": (
        '{"agents": {"defaults": {"model": "x",}}}',
        "not valid JSON: Expecting property name enclosed in double quotes at line 1",
    ),
    "not an object": ('["a"]', "the top level must be a JSON object"),
    "bad plugins list": ('{"plugins": {"disabled": "marker"}}', 'plugins.disabled: expected a list, got "marker"'),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize(
    "command",
    [
        ["config", "lint"],
        ["config", "show"],
        ["plugins", "list"],
        ["plugins", "disable", "marker"],
        ["plugins", "info", "core"],
    ],
)
def test_bad_config_is_reported_without_traceback_and_left_untouched(case, command, home, nanofolks_proc, fixture_site):
    text, expected = BAD_FILES[case]
    path = home / "config.json"
    path.write_text(text)
    run = nanofolks_proc(command, home, extra_path=fixture_site)
    assert run.code == 2, (run.out, run.err)
    assert str(path) in run.err
    assert expected in run.err
    assert "Traceback" not in run.err
    assert path.read_text() == text


def test_lint_reports_every_problem_at_once(home, nanofolks_proc):
    (home / "config.json").write_text(
        json.dumps(
            {
                "agents": {"defaults": {"temperature": "hot", "maxTokens": 1.5}},
                "team": 7,
                "storage": {"useCasStorage": "no"},
            }
        )
    )
    run = nanofolks_proc(["config", "lint"], home)
    assert run.code == 2
    for line in (
        "agents.defaults.temperature: expected a number",
        "agents.defaults.maxTokens: expected a whole number",
        "team: expected a string, got 7",
        "storage.useCasStorage: expected true or false",
    ):
        assert line in run.err


def test_lint_ok_show_and_path(home, nanofolks_proc):
    path = home / "config.json"
    path.write_text(json.dumps({"agents": {"defaults": {"model": "vllm/m"}}, "storage": {"use_cas_storage": False}}))
    lint = nanofolks_proc(["config", "lint"], home)
    assert lint.code == 0 and f"{path}: OK" in lint.out
    shown = json.loads(nanofolks_proc(["config", "show"], home).out)
    assert shown["agents"]["defaults"]["model"] == "vllm/m"
    assert shown["storage"]["useCasStorage"] is False  # snake_case accepted, shown camelCase
    assert shown["agents"]["defaults"]["maxTokens"] == 4096  # defaults filled in
    assert nanofolks_proc(["config", "path"], home).out.strip() == str(path)


def test_missing_file_means_defaults(home, nanofolks_proc):
    lint = nanofolks_proc(["config", "lint"], home)
    assert lint.code == 0 and "no file yet" in lint.out


def test_section_of_a_disabled_plugin_is_kept_and_only_warned_about(home, nanofolks_proc, fixture_site):
    path = home / "config.json"
    text = json.dumps({"plugins": {"disabled": ["marker"]}, "channels": {"marker": {"enabled": True}}})
    path.write_text(text)
    lint = nanofolks_proc(["config", "lint"], home, extra_path=fixture_site)
    assert lint.code == 0, lint.err
    assert "warning: channels.marker: no enabled plugin provides this section" in lint.out
    # enabling rewrites the plugins list but keeps the section as it was
    nanofolks_proc(["plugins", "enable", "marker"], home, extra_path=fixture_site)
    assert json.loads(path.read_text())["channels"] == {"marker": {"enabled": True}}


def test_unknown_section_is_an_error_when_every_plugin_loaded(home, nanofolks_proc):
    (home / "config.json").write_text(json.dumps({"channels": {"telgram": {"enabled": True}}}))
    run = nanofolks_proc(["config", "lint"], home)
    assert run.code == 2
    assert "channels.telgram: no installed plugin provides this section" in run.err


def test_a_chat_app_section_without_its_plugin_says_what_to_install(home, nanofolks_proc):
    (home / "config.json").write_text(json.dumps({"channels": {"matrix": {"enabled": True}}}))
    run = nanofolks_proc(["config", "lint"], home)
    assert run.code == 2 and "Traceback" not in run.err
    expected = "channels.matrix: no installed plugin provides this section; install it (`pip install nanofolks-matrix`)"
    assert expected in run.err


def test_a_channel_config_class_without_the_shared_base_is_named_to_its_author():
    import attrs

    from nanofolks_core.api import ChannelConfig
    from nanofolks_core.testing import structure_section

    @attrs.define(kw_only=True)
    class Forgot:
        port: int = 7700

    @attrs.define(kw_only=True)
    class Remembered(ChannelConfig):
        port: int = 7700

    _, issues = structure_section({"enabled": True, "allowFrom": ["ada"]}, Forgot, "channels.relay")
    assert sorted(issue.key for issue in issues) == ["channels.relay.allowFrom", "channels.relay.enabled"]
    assert all("must subclass nanofolks_core.api.ChannelConfig" in str(issue) for issue in issues)
    config, issues = structure_section({"enabled": True, "allowFrom": ["ada"]}, Remembered, "channels.relay")
    assert issues == [] and config.enabled and config.allow_from == ["ada"]


def test_unknown_section_is_a_warning_while_some_plugin_is_not_loaded(home, nanofolks_proc, fixture_site):
    (home / "config.json").write_text(json.dumps({"channels": {"telgram": {"enabled": True}}}))
    run = nanofolks_proc(["config", "lint"], home, extra_path=fixture_site, env={"NANOFOLKS_LOAD_PLUGINS": ""})
    assert run.code == 0
    assert "warning: channels.telgram: no enabled plugin provides this section; ignored" in run.out


def test_cas_env_override_is_validated(home, nanofolks_proc):
    run = nanofolks_proc(["config", "show"], home, env={"NANOFOLKS_USE_CAS_STORAGE": "false"})
    assert json.loads(run.out)["storage"]["useCasStorage"] is False
    bad = nanofolks_proc(["config", "show"], home, env={"NANOFOLKS_USE_CAS_STORAGE": "maybe"})
    assert bad.code == 2 and "NANOFOLKS_USE_CAS_STORAGE: expected true or false" in bad.err


def test_concurrent_updates_all_land_and_a_symlinked_config_stays_a_link(tmp_path):
    import multiprocessing

    from nanofolks_core.config import update_raw

    real = tmp_path / "dotfiles" / "nanofolks.json"
    real.parent.mkdir()
    real.write_text('{"team": "default"}')
    link = tmp_path / "config.json"
    link.symlink_to(real)
    names = [f"plugin-{i}" for i in range(12)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.starmap(_disable_one, [(str(link), name) for name in names])
    assert link.is_symlink()
    data = json.loads(real.read_text())
    assert sorted(data["plugins"]["disabled"]) == sorted(names)
    assert data["team"] == "default"
    update_raw(link, lambda raw: raw.update(team="pirate"))
    assert json.loads(real.read_text())["team"] == "pirate" and link.is_symlink()


def _disable_one(path: str, name: str) -> None:
    from pathlib import Path

    from nanofolks_core.config import update_raw

    def mutate(raw):
        raw.setdefault("plugins", {}).setdefault("disabled", []).append(name)

    update_raw(Path(path), mutate)


def test_exported_validators_report_every_bad_field_of_a_plugin_section(tmp_path):
    """Plugins build their config classes from nanofolks_core.api.validators; problems come out together."""
    import attrs

    from nanofolks_core.api import validators
    from nanofolks_core.config import ConfigError, build_config

    @attrs.define(kw_only=True)
    class EchoConfig:
        delay: float = attrs.field(default=0.5, validator=validators.at_least(0))
        volume: int = attrs.field(default=5, validator=validators.between(0, 11))
        mode: str = attrs.field(default="loud", validator=validators.one_of("loud", "quiet"))
        url: str | None = attrs.field(default=None, validator=validators.http_url())
        retries: int = 1

    raw = {"echo": {"delay": -1, "volume": 12, "mode": "shout", "url": "ftp://u:pw@x", "retries": "2"}}
    with pytest.raises(ConfigError) as caught:
        build_config(raw, tmp_path / "config.json", {"echo": EchoConfig})
    issues = [str(issue) for issue in caught.value.issues]
    assert issues == [
        'echo.retries: expected a whole number, got "2"',
        "echo: delay must be at least 0, got -1.0",
        "echo: volume must be from 0 to 11, got 12",
        "echo: mode must be one of 'loud', 'quiet', got 'shout'",
        "echo: url must be an http:// or https:// URL such as http://127.0.0.1:8000/v1, got 'ftp://u:***@x'",
    ]
    with pytest.raises(ValueError, match="must be a finite number"):
        EchoConfig(delay=float("nan"))  # also when a plugin builds its config in code
    assert build_config({"echo": {"volume": 11}}, tmp_path / "c.json", {"echo": EchoConfig}).config.section(
        "echo"
    ) == EchoConfig(volume=11)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("cannot connect to http://bob:hunter2@host:8000/v1", "cannot connect to http://bob:***@host:8000/v1"),
        ("GET https://tok3n@git.example/x?token=abc&page=2", "GET https://***@git.example/x?token=***&page=2"),
        ("header Authorization: Bearer abcdef123456", "header Authorization: Bearer ***"),
        ("mail bob@example.com about http://example.com/a@b", "mail bob@example.com about http://example.com/a@b"),
    ],
)
def test_mask_secrets_hides_url_credentials_and_tokens(text, masked):
    from nanofolks_core.api import mask_secrets

    assert mask_secrets(text) == masked


def test_verbose_log_lines_are_masked(capsys):
    import logging

    from nanofolks_core.masking import MaskingFilter

    handler = logging.StreamHandler()
    handler.addFilter(MaskingFilter())
    logger = logging.getLogger("nanofolks.test-masking")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("calling %s with %s", "http://bob:hunter2@host/v1", "Bearer abcdef123456")
    finally:
        logger.removeHandler(handler)
    err = capsys.readouterr().err
    assert "calling http://bob:***@host/v1 with Bearer ***" in err and "hunter2" not in err
