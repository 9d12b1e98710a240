"""Built-in defaults. They register through the same hooks as third-party plugins."""
