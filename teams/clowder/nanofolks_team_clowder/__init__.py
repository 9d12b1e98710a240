"""The Feral Clowder team persona pack for nanofolks. The team itself is data: ``team.toml``."""
