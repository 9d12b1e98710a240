"""Entry module of ``nanofolks-keyring``: registers the ``keyring`` secret store.

Importing this module does not import keyring; the store is built on first use.
"""

from __future__ import annotations

from nanofolks_core.api import SecretStoreSpec, hookimpl

NANOFOLKS_API = "1.0"


@hookimpl
def nanofolks_register_secret_stores(register):
    register(
        SecretStoreSpec(
            name="keyring",
            summary="OS keyring (Keychain, Credential Manager, Secret Service); an owner-only file when there is none",
            factory="nanofolks_keyring.store:KeyringStore",
            priority=10,
        )
    )
