"""nanofolks-routines: the crew acts on its own, on a schedule (see docs/routines.md)."""
