"""Telegram channel for nanofolks."""
