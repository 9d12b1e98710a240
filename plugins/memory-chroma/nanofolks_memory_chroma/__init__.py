"""nanofolks-memory-chroma: the crew's long-term memory (SQLite event log, knowledge graph, chromadb search)."""

__version__ = "0.1.0"
