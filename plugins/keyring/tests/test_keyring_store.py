"""The keyring store with real keyring backends: null/fail (file fallback), a recording one, a locked one."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from nanofolks_core.api import Services

sys.path.insert(0, str(Path(__file__).parent))
from nanofolks_keyring import store as store_mod  # noqa: E402
from nanofolks_keyring.store import KeyringStore  # noqa: E402
from recording_backend import BrokenKeyring, RecordingKeyring  # noqa: E402


@pytest.fixture
def backend():
    """Sets keyring's backend for one test and restores the one before."""
    before = keyring.get_keyring()

    def use(instance):
        keyring.set_keyring(instance)
        return instance

    yield use
    keyring.set_keyring(before)


@pytest.fixture(autouse=True)
def fresh_notices():
    store_mod._warned.clear()


def make_store(home: Path) -> KeyringStore:
    return KeyringStore(spec=None, config=None, services=Services(plugin="keyring", data_root=home))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("headless", [null.Keyring, fail.Keyring])
def test_headless_keeps_secrets_in_an_owner_only_file_and_says_so_once(tmp_path, backend, caplog, headless):
    backend(headless())
    caplog.set_level(logging.WARNING)
    store = make_store(tmp_path)
    store.set("openrouter", "sk-or-v1-value")
    assert store.get("openrouter") == "sk-or-v1-value"
    assert store.names() == ["openrouter"]
    secrets = tmp_path / "plugins" / "keyring" / "secrets.json"
    assert mode(secrets) == 0o600 and mode(secrets.parent) == 0o700
    assert "sk-or-v1-value" in secrets.read_text()
    notices = [r for r in caplog.records if "no OS keyring" in r.getMessage()]
    assert len(notices) == 1
    # A second process (a new store, notices forgotten) does not say it again.
    store_mod._warned.clear()
    again = make_store(tmp_path)
    assert again.get("openrouter") == "sk-or-v1-value"
    assert len([r for r in caplog.records if "no OS keyring" in r.getMessage()]) == 1
    assert again.delete("openrouter") is True
    assert again.delete("openrouter") is False
    assert again.get("openrouter") is None and again.names() == []


def test_a_real_backend_receives_the_secret_and_no_file_holds_it(tmp_path, backend, monkeypatch):
    monkeypatch.setenv("NANOFOLKS_TEST_KEYRING", str(tmp_path / "os-keyring.json"))
    recording = backend(RecordingKeyring())
    RecordingKeyring.calls.clear()
    home = tmp_path / "home"
    store = make_store(home)
    store.set("github", "ghp-value-123")
    assert ("set", "nanofolks", "github") in RecordingKeyring.calls
    assert recording.get_password("nanofolks", "github") == "ghp-value-123"
    assert store.get("github") == "ghp-value-123"
    assert store.names() == ["github"]
    # Only the name is kept beside the keyring, never the value.
    for path in home.rglob("*"):
        if path.is_file():
            assert "ghp-value-123" not in path.read_text()
    assert "OS keyring" in store.where()
    assert store.delete("github") is True
    assert recording.get_password("nanofolks", "github") is None and store.names() == []


def test_a_locked_keyring_falls_back_to_the_file_without_losing_the_secret(tmp_path, backend, caplog):
    backend(BrokenKeyring())
    caplog.set_level(logging.WARNING)
    store = make_store(tmp_path)
    store.set("token", "value-kept")
    assert store.get("token") == "value-kept"
    assert any("refused" in r.getMessage() for r in caplog.records)
    assert mode(tmp_path / "plugins" / "keyring" / "secrets.json") == 0o600


def test_a_damaged_file_is_a_clear_error_and_is_left_as_it_was(tmp_path, backend):
    from nanofolks_core.api import SecretUnavailable

    backend(null.Keyring())
    store = make_store(tmp_path)
    store.set("a", "value-a")
    secrets = tmp_path / "plugins" / "keyring" / "secrets.json"
    secrets.write_text("{not json")
    with pytest.raises(SecretUnavailable, match="secrets.json cannot be read"):
        store.get("a")
    assert secrets.read_text() == "{not json"


def test_bad_names_are_refused(tmp_path, backend):
    backend(null.Keyring())
    with pytest.raises(ValueError, match="secret name"):
        make_store(tmp_path).set("no spaces", "x")


def test_a_name_no_store_holds_is_read_from_the_environment(tmp_path, backend, monkeypatch):
    backend(null.Keyring())
    monkeypatch.setenv("NANOFOLKS_SECRET_GITHUB_TOKEN", "from-the-environment")
    store = make_store(tmp_path)
    assert store.get("github-token") == "from-the-environment"
    store.set("github-token", "from-the-store")
    assert store.get("github-token") == "from-the-store"
    assert store.get("absent") is None


def test_processes_setting_secrets_at_once_lose_none(tmp_path):
    # Each `secrets set` reads, changes and rewrites secrets.json: without a lock between
    # processes, one process's write would drop what another added meanwhile.
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from nanofolks_core.api import Services\n"
        "from nanofolks_keyring.store import KeyringStore\n"
        "store = KeyringStore(services=Services(plugin='keyring', data_root=Path(sys.argv[1])))\n"
        "for i in range(15):\n"
        "    store.set(f'{sys.argv[2]}-{i}', f'value-{sys.argv[2]}-{i}')\n"
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path), f"p{n}"], env=env, stderr=subprocess.PIPE)
        for n in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    store = make_store(tmp_path)
    wanted = {f"p{n}-{i}" for n in range(4) for i in range(15)}
    assert set(store.names()) == wanted
    assert all(store.get(name) == f"value-{name}" for name in wanted)
