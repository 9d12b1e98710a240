"""A keyring backend for tests: keeps passwords in a JSON file named by ``NANOFOLKS_TEST_KEYRING``
(so a ``nanofolks`` subprocess and the test see the same keyring) and counts its calls.

Select it with ``PYTHON_KEYRING_BACKEND=recording_backend.RecordingKeyring`` and this folder on
``PYTHONPATH``, or in process with ``keyring.set_keyring(RecordingKeyring())``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class RecordingKeyring(KeyringBackend):
    priority = 1  # only used when selected explicitly

    calls: list[tuple[str, str, str]] = []

    @property
    def path(self) -> Path:
        return Path(os.environ["NANOFOLKS_TEST_KEYRING"])

    def _load(self) -> dict:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service, username):
        self.calls.append(("get", service, username))
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        self.calls.append(("set", service, username))
        data = self._load()
        data[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(data))

    def delete_password(self, service, username):
        self.calls.append(("delete", service, username))
        data = self._load()
        if data.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError(username)
        self.path.write_text(json.dumps(data))


class BrokenKeyring(KeyringBackend):
    """A keyring that is there but refuses everything (a locked Secret Service)."""

    priority = 1

    def get_password(self, service, username):
        from keyring.errors import KeyringLocked

        raise KeyringLocked("the collection is locked")

    def set_password(self, service, username, password):
        from keyring.errors import KeyringLocked

        raise KeyringLocked("the collection is locked")

    def delete_password(self, service, username):
        raise PasswordDeleteError(username)
