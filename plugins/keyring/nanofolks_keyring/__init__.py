"""nanofolks-keyring: the secret store behind ``keyring:NAME`` references and ``{{name}}`` credentials."""
