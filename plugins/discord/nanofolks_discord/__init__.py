"""nanofolks-discord: the Discord channel (discord.py). The entry module is :mod:`nanofolks_discord.plugin`."""
