"""nanofolks-router: tier-aware model routing for nanofolks (see README.md)."""

__version__ = "0.1.0"
