"""nanofolks-worklog: a persistent log of the crew's work, and metrics over it."""
