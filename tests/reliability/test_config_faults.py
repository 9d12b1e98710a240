"""Issue 8 rows 10 and 17: broken config files and secrets in config, through the real CLI in fresh processes.

Every broken file gives one clear error naming the file, what is wrong and how to fix it (exit 2,
no traceback) for every command, `--help` included, and the file is left untouched. Secrets in
config never reach the terminal: not in `config show`, not in errors.
"""

from __future__ import annotations

import json

import pytest

DEEP = "[" * 100_000 + "]" * 100_000

BROKEN_FILES = {
    "non-utf8": (b'{"team": "caf\xe9"}', "not UTF-8 text: byte 0xe9 at line 1, column 14 (save the file as UTF-8)"),
    "deep-nesting": (
        ('{"agents": ' + DEEP + "}").encode(),
        "nested more than 64 levels deep",
    ),
    "deep-top-level": (DEEP.encode(), "nested more than 64 levels deep"),
    "nan": (
        b'{"agents": {"defaults": {"temperature": NaN}}}',
        "agents.defaults.temperature: expected a number, got NaN (write a finite number)",
    ),
    "infinity": (
        b'{"compaction": {"warnAt": -Infinity}}',
        "compaction.warnAt: expected a number, got -Infinity (write a finite number)",
    ),
    "overflow": (
        b'{"agents": {"defaults": {"maxTokens": 1e400}}}',
        "agents.defaults.maxTokens: expected a whole number, got Infinity",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILES))
@pytest.mark.parametrize("command", [["config", "lint"], ["config", "show"], ["plugins", "list"], ["chat", "-m", "hi"]])
def test_a_broken_file_is_one_clear_error_and_is_left_untouched(case, command, home, nanofolks_proc):
    data, expected = BROKEN_FILES[case]
    path = home / "config.json"
    path.write_bytes(data)
    run = nanofolks_proc(command, home)
    assert run.code == 2, (run.out, run.err[-500:])
    assert f"invalid configuration in {path}" in run.err
    assert expected in run.err
    assert "nanofolks config lint" in run.err  # how to check the fix
    assert "Traceback" not in run.err + run.out
    assert path.read_bytes() == data


@pytest.mark.parametrize("case", ["non-utf8", "deep-nesting"])
def test_help_still_works_and_says_why_plugin_commands_are_missing(case, home, nanofolks_proc):
    data, expected = BROKEN_FILES[case]
    (home / "config.json").write_bytes(data)
    run = nanofolks_proc(["--help"], home)
    assert run.code == 0
    assert "Usage: nanofolks" in run.out and "config" in run.out
    assert "warning: plugin commands are not listed" in run.err and expected in run.err
    assert "Traceback" not in run.err
    assert nanofolks_proc(["--version"], home).code == 0


def test_a_utf8_bom_is_accepted(home, nanofolks_proc):
    (home / "config.json").write_bytes(b'\xef\xbb\xbf{"team": "default"}')
    assert nanofolks_proc(["config", "lint"], home).code == 0


def test_type_and_range_errors_of_every_section_come_out_together(home, nanofolks_proc):
    path = home / "config.json"
    path.write_text(
        json.dumps(
            {
                "agents": {"defaults": {"temperature": 9, "maxTokens": "lots", "contextWindow": 10}},
                "compaction": {"mode": "weird", "triggerAt": "high", "warnAt": 0},
                "storage": {"useCasStorage": "no", "bogus": 1},
            }
        )
    )
    run = nanofolks_proc(["config", "lint"], home)
    assert run.code == 2
    for line in (
        "agents.defaults: temperature must be from 0 to 2, got 9.0",
        'agents.defaults.maxTokens: expected a whole number, got "lots"',
        "agents.defaults: contextWindow must be at least 256, got 10",
        "compaction: mode must be one of 'summary', 'token-limit', 'off', got 'weird'",
        'compaction.triggerAt: expected a number, got "high"',
        "compaction: warnAt must be above 0 and at most 1, got 0.0",
        'storage.useCasStorage: expected true or false, got "no"',
        "storage.bogus: unknown key",
    ):
        assert line in run.err, line


def test_a_bad_plugins_list_still_shows_every_other_core_problem(home, nanofolks_proc):
    (home / "config.json").write_text(
        json.dumps({"plugins": {"disabled": "marker"}, "agents": {"defaults": {"temperature": -1}}})
    )
    run = nanofolks_proc(["plugins", "list"], home)
    assert run.code == 2
    assert 'plugins.disabled: expected a list, got "marker"' in run.err
    assert "agents.defaults: temperature must be from 0 to 2, got -1" in run.err


SECRET_CONFIG = {
    "agents": {"defaults": {"model": "vllm/m"}},
    "providers": {
        "vllm": {
            "apiBase": "http://bob:hunter2@127.0.0.1:9/v1?api_key=querysecret",
            "apiKey": "sk-inline-very-secret-key-123456",
            "extraHeaders": {"Authorization": "Bearer headersecret123", "X-Org": "orgsecret", "X-Ref": "env:ORG"},
        },
        "openrouter": {"apiKey": "env:OPENROUTER_API_KEY"},
    },
}
SECRETS = ("hunter2", "querysecret", "sk-inline-very-secret-key", "headersecret123", "orgsecret")


def test_config_show_masks_headers_url_credentials_and_secret_fields(home, nanofolks_proc):
    pytest.importorskip("nanofolks_provider_litellm")
    (home / "config.json").write_text(json.dumps(SECRET_CONFIG))
    run = nanofolks_proc(["config", "show"], home)
    assert run.code == 0, run.err
    for secret in SECRETS:
        assert secret not in run.out
    shown = json.loads(run.out)["providers"]
    assert shown["vllm"]["apiBase"] == "http://bob:***@127.0.0.1:9/v1?api_key=***"
    assert shown["vllm"]["apiKey"] == "***"
    assert shown["vllm"]["extraHeaders"] == {"Authorization": "***", "X-Org": "***", "X-Ref": "env:ORG"}
    assert shown["openrouter"]["apiKey"] == "env:OPENROUTER_API_KEY"  # a reference is not a secret


def test_config_errors_never_print_a_secret(home, nanofolks_proc):
    pytest.importorskip("nanofolks_provider_litellm")
    bad = json.loads(json.dumps(SECRET_CONFIG))
    bad["providers"]["vllm"]["apiBase"] = "ftp://bob:hunter2@host/v1"
    bad["providers"]["vllm"]["timeout"] = -1
    (home / "config.json").write_text(json.dumps(bad))
    run = nanofolks_proc(["config", "lint"], home)
    assert run.code == 2
    assert "providers.vllm: apiBase must be an http:// or https:// URL" in run.err
    assert "ftp://bob:***@host/v1" in run.err
    assert "timeout must be" in run.err  # both problems of the section, in one run
    for secret in SECRETS:
        assert secret not in run.err + run.out


def test_files_written_for_config_are_owner_only(home, nanofolks_proc, fixture_site):
    (home / "config.json").write_text('{"team": "default"}')
    (home / "config.json").chmod(0o644)
    run = nanofolks_proc(["plugins", "disable", "marker"], home, extra_path=fixture_site)
    assert run.code == 0, run.err
    for name in ("config.json", "config.json.lock"):
        assert (home / name).stat().st_mode & 0o777 == 0o600, name
    assert json.loads((home / "config.json").read_text()) == {"team": "default", "plugins": {"disabled": ["marker"]}}
