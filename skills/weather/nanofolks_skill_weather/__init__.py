"""The weather skill pack for nanofolks. The skill itself is data: ``skill/SKILL.md``."""
