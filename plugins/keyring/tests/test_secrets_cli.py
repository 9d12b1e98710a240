"""``nanofolks secrets set|list|remove`` run as a user would (subprocesses), and ``keyring:NAME``
resolving through the store for plugins, the litellm provider included."""

from __future__ import annotations

import json
import os
import pty
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

NANOFOLKS = [sys.executable, "-m", "nanofolks_core"]
TESTS = Path(__file__).parent
NULL = "keyring.backends.null.Keyring"


def run(args, home: Path, *, stdin: bytes | None = b"", backend: str = NULL, **env):
    environment = {
        **os.environ,
        "NANOFOLKS_HOME": str(home),
        "PYTHON_KEYRING_BACKEND": backend,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    return subprocess.run(
        [*NANOFOLKS, *args], input=stdin, capture_output=True, env=environment, timeout=60, check=False
    )


def test_set_list_remove_on_a_headless_machine(tmp_path):
    home = tmp_path / "home"
    saved = run(["secrets", "set", "openrouter"], home, stdin=b"sk-or-v1-from-stdin\n")
    assert saved.returncode == 0, saved.stderr
    assert b'"keyring:openrouter"' in saved.stdout and b"owner-only file" in saved.stdout
    assert b"no OS keyring on this machine" in saved.stderr
    secrets = home / "plugins" / "keyring" / "secrets.json"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert json.loads(secrets.read_text()) == {"openrouter": "sk-or-v1-from-stdin"}

    listed = run(["secrets", "list", "--json"], home)
    assert [row["name"] for row in json.loads(listed.stdout)] == ["openrouter"]
    assert b"sk-or-v1-from-stdin" not in listed.stdout + listed.stderr
    assert b"no OS keyring" not in listed.stderr  # said once, not on every command

    removed = run(["secrets", "remove", "openrouter"], home)
    assert removed.returncode == 0 and b"removed openrouter" in removed.stdout
    again = run(["secrets", "remove", "openrouter"], home)
    assert again.returncode != 0 and b"no secret named 'openrouter'" in again.stderr
    assert b"Traceback" not in again.stderr


def test_empty_input_and_bad_names_are_one_line_errors(tmp_path):
    empty = run(["secrets", "set", "x"], tmp_path, stdin=b"\n")
    assert empty.returncode != 0 and b"no value given for x" in empty.stderr and b"Traceback" not in empty.stderr
    bad = run(["secrets", "set", "../x"], tmp_path, stdin=b"v")
    assert bad.returncode != 0 and b"secret name '../x'" in bad.stderr


def test_a_real_keyring_backend_gets_the_value(tmp_path):
    os_keyring = tmp_path / "os-keyring.json"
    home = tmp_path / "home"
    env = {"NANOFOLKS_TEST_KEYRING": str(os_keyring)}
    saved = run(
        ["secrets", "set", "gh"], home, stdin=b"ghp-real-value", backend="recording_backend.RecordingKeyring", **env
    )
    assert saved.returncode == 0, saved.stderr
    assert b"saved gh in the OS keyring (recording backend RecordingKeyring)" in saved.stdout
    assert json.loads(os_keyring.read_text()) == {"nanofolks/gh": "ghp-real-value"}
    assert not (home / "plugins" / "keyring" / "secrets.json").exists()
    listed = run(["secrets", "list"], home, backend="recording_backend.RecordingKeyring", **env)
    assert listed.stdout.startswith(b"gh\t")


def test_the_hidden_prompt_on_a_terminal_does_not_echo(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "NANOFOLKS_HOME": str(home), "PYTHON_KEYRING_BACKEND": NULL}
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [*NANOFOLKS, "secrets", "set", "typed"], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 30
    answered = 0
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 1024)
        except OSError:
            break
        seen += chunk
        prompts = seen.count(b"value for typed") + seen.count(b"Repeat for confirmation")
        while answered < prompts:
            os.write(leader, b"typed-secret-42\n")
            answered += 1
    proc.wait(timeout=30)
    try:
        seen += os.read(leader, 4096)
    except OSError:
        pass
    os.close(leader)
    assert proc.returncode == 0, seen
    assert b"typed-secret-42" not in seen
    assert json.loads((home / "plugins" / "keyring" / "secrets.json").read_text()) == {"typed": "typed-secret-42"}


def test_keyring_references_resolve_for_every_plugin(tmp_path, monkeypatch):
    home = tmp_path / "home"
    assert run(["secrets", "set", "service-token"], home, stdin=b"value-from-store").returncode == 0
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", NULL)
    from nanofolks_core.api import App, SecretUnavailable

    app = App(data_root=home)
    for plugin in ("router", "memory-chroma", "any-plugin"):
        assert app.services_for(plugin).secret("keyring:service-token") == "value-from-store"
    with pytest.raises(SecretUnavailable, match="nanofolks secrets set missing"):
        app.services_for("x").secret("keyring:missing")


def test_the_provider_authenticates_with_a_keyring_reference(tmp_path):
    pytest.importorskip("nanofolks_provider_litellm")
    from nanofolks_core.testing.llm_server import FakeLLMServer

    home = tmp_path / "home"
    assert run(["secrets", "set", "llm"], home, stdin=b"sk-fake-server-key-123").returncode == 0
    with FakeLLMServer(api_key="sk-fake-server-key-123") as server:
        (home / "config.json").write_text(
            json.dumps(
                {
                    "agents": {"defaults": {"model": "vllm/test-model"}},
                    "providers": {"vllm": {"apiBase": server.base_url, "apiKey": "keyring:llm"}},
                }
            )
        )
        answered = run(["chat", "-m", "hello there"], home)
        assert answered.returncode == 0, answered.stderr
        assert len(server.requests) >= 1
        (home / "config.json").write_text(
            json.dumps(
                {
                    "agents": {"defaults": {"model": "vllm/test-model"}},
                    "providers": {"vllm": {"apiBase": server.base_url, "apiKey": "keyring:absent"}},
                }
            )
        )
        missing = run(["chat", "-m", "hello again"], home)
        assert missing.returncode != 0
        assert b"nanofolks secrets set absent" in missing.stderr and b"Traceback" not in missing.stderr


def test_a_token_pasted_into_nanofolks_chat_reaches_only_the_store(tmp_path):
    """The user's path: `nanofolks chat -m` with a GitHub token and an Anthropic key, headless."""
    pytest.importorskip("nanofolks_provider_litellm")
    import binascii
    import random
    import string

    from nanofolks_core.testing.llm_server import FakeLLMServer

    def base62(number: int, width: int = 6) -> str:  # GitHub's checksum alphabet, written out independently
        alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
        digits = ""
        while number:
            number, rest = divmod(number, 62)
            digits = alphabet[rest] + digits
        return digits.rjust(width, "0")

    rng = random.Random(3)
    body = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(30))
    token = "ghp_" + body + base62(binascii.crc32(body.encode()))
    key = "sk-ant-api03-" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(93)) + "AA"
    home = tmp_path / "home"
    home.mkdir()
    with FakeLLMServer() as server:
        (home / "config.json").write_text(
            json.dumps(
                {
                    "agents": {"defaults": {"model": "vllm/test-model"}},
                    "providers": {"vllm": {"apiBase": server.base_url}},
                }
            )
        )
        said = run(
            ["chat", "-m", f"remember my token {token} and the key {key}"], home, LITELLM_LOCAL_MODEL_COST_MAP="True"
        )
        assert said.returncode == 0, said.stderr
        sent = json.dumps(server.requests)
    assert token not in sent and key not in sent and "{{github_token}}" in sent and "{{anthropic_key}}" in sent
    assert token.encode() not in said.stdout + said.stderr and key.encode() not in said.stdout + said.stderr
    store = home / "plugins" / "keyring" / "secrets.json"
    assert json.loads(store.read_text()) == {"github_token": token, "anthropic_key": key}
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    for path in home.rglob("*"):
        if path.is_file() and path != store:
            assert token.encode() not in path.read_bytes() and key.encode() not in path.read_bytes(), path
    history = run(["room", "history", "general", "--json"], home)
    assert b"{{github_token}}" in history.stdout and token.encode() not in history.stdout
