"""The ``keyring`` secret store: the OS keyring when a real backend exists, otherwise a 0600 file.

On a headless machine keyring picks its ``fail`` backend (every call raises) or, when told to,
the ``null`` one (stores nothing). Neither keeps a secret, so the store falls back to
``<data>/plugins/keyring/secrets.json``, readable by the owner only, and says so once per
process. It never prompts: the only prompt is the CLI's hidden one, and only on a terminal.

The OS keyring cannot list what it holds, so the names (never the values) are kept in
``names.json`` beside it; ``names()`` reads that list. A name neither place holds is read from
the environment variable ``NANOFOLKS_SECRET_<NAME>`` (containers, CI).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from nanofolks_core.api import SecretUnavailable, atomic_write_text, file_lock, private_dir

#: The keyring "service" every nanofolks secret is filed under.
SERVICE = "nanofolks"

_warned: set[str] = set()


class KeyringStore:
    """A :class:`nanofolks_core.api.SecretStore` over keyring, with an owner-only file fallback."""

    def __init__(self, *, spec: Any = None, config: Any = None, services: Any) -> None:
        self.services = services
        self.folder: Path = services.data_dir
        self.file = self.folder / "secrets.json"
        self.index = self.folder / "names.json"
        self.log: logging.Logger = services.log
        self._backend: Any = None
        self._checked = False

    # -- which place -------------------------------------------------------------------------

    @property
    def backend(self) -> Any:
        """The keyring backend in use, or None when secrets go to the owner-only file."""
        if not self._checked:
            self._checked = True
            self._backend = _real_backend()
            if self._backend is None:
                # Said once per data folder, not on every command: the marker remembers it was said.
                marker = self.folder / ".file-fallback-noted"
                if not marker.exists():
                    self._say_once(
                        f"no OS keyring on this machine: secrets are kept in {self.file} (readable by you only); "
                        "install and unlock a keyring (e.g. gnome-keyring) to use it instead"
                    )
                    marker.touch(mode=0o600)
        return self._backend

    def where(self) -> str:
        """Where secrets go, for messages: ``OS keyring (SecretService Keyring)`` or the file path."""
        backend = self.backend
        if backend is None:
            return f"{self.file} (owner-only file; no OS keyring on this machine)"
        return f"the OS keyring ({getattr(backend, 'name', type(backend).__name__)})"

    def available(self) -> bool:
        return True  # the file fallback is always there

    # -- SecretStore ---------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        backend = self.backend
        if backend is not None:
            try:
                value = backend.get_password(SERVICE, name)
            except Exception as exc:  # noqa: BLE001 - a locked or broken keyring: the file may have it
                self._say_once(f"the OS keyring could not be read ({type(exc).__name__}: {exc}); using {self.file}")
                value = None
            if value is not None:
                return value
        value = self._read_file().get(name)
        # Last: the environment, for containers and CI where neither a keyring nor a file is wanted.
        return value if value is not None else os.environ.get(env_name(name)) or None

    def set(self, name: str, value: str) -> None:
        _check_name(name)
        backend = self.backend
        if backend is not None:
            try:
                backend.set_password(SERVICE, name, value)
            except Exception as exc:  # noqa: BLE001 - fall back rather than lose the secret
                self._say_once(f"the OS keyring refused the secret ({type(exc).__name__}: {exc}); using {self.file}")
            else:
                self._forget_in_file(name)
                self._update_index(add=name)
                return
        with self._locked():
            secrets = self._read_file()
            secrets[name] = value
            _write_private(self.file, secrets)
        self._update_index(add=name)

    def delete(self, name: str) -> bool:
        existed = False
        backend = self.backend
        if backend is not None:
            try:
                if backend.get_password(SERVICE, name) is not None:
                    backend.delete_password(SERVICE, name)
                    existed = True
            except Exception as exc:  # noqa: BLE001 - the file copy is still removed below
                self.log.debug("keyring delete of %s failed: %s", name, exc)
        existed = self._forget_in_file(name) or existed
        self._update_index(remove=name)
        return existed

    def names(self) -> list[str]:
        names = set(self._read_json(self.index, []))
        names |= set(self._read_file())
        return sorted(names)

    # -- files ---------------------------------------------------------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        # Every change reads, edits and rewrites a whole file: one writer at a time, across
        # threads and processes (two `secrets set` at once would otherwise drop one name).
        private_dir(self.folder)
        return file_lock(self.folder / ".lock")

    def _read_file(self) -> dict[str, str]:
        data = self._read_json(self.file, {})
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _read_json(self, path: Path, empty: Any) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return empty
        except (OSError, ValueError) as exc:
            raise SecretUnavailable(
                f"{path} cannot be read ({exc}); fix its permissions or move it aside and set the secrets again"
            ) from None

    def _forget_in_file(self, name: str) -> bool:
        with self._locked():
            secrets = self._read_file()
            if name not in secrets:
                return False
            del secrets[name]
            _write_private(self.file, secrets)
            return True

    def _update_index(self, *, add: str | None = None, remove: str | None = None) -> None:
        with self._locked():
            names = set(self._read_json(self.index, []))
            if add:
                names.add(add)
            if remove:
                names.discard(remove)
            _write_private(self.index, sorted(names))

    def _say_once(self, message: str) -> None:
        if message not in _warned:
            _warned.add(message)
            self.log.warning("%s", message)


def env_name(name: str) -> str:
    """The environment variable read for ``keyring:NAME`` when no store holds it: ``NANOFOLKS_SECRET_NAME``."""
    return "NANOFOLKS_SECRET_" + "".join(c if c.isalnum() else "_" for c in name).upper()


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "_.-" for c in name):
        raise ValueError(f"secret name {name!r}: use letters, digits, '_', '.' or '-'")


def _real_backend() -> Any:
    """The keyring backend, or None when it is keyring's ``fail`` or ``null`` (they keep nothing)."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except Exception:  # noqa: BLE001 - keyring missing or broken: the file still works
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return None
    return backend


def _write_private(path: Path, data: Any) -> None:
    """Write JSON readable by the owner only, atomically (a crash leaves the old file)."""
    atomic_write_text(path, json.dumps(data, indent=1))
