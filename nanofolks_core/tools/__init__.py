"""Built-in tools (registered by the ``core`` plugin like any other)."""
