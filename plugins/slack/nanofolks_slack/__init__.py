"""nanofolks-slack: the crew in Slack over Socket Mode (see docs/channels/slack.md)."""
