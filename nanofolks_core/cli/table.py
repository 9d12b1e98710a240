"""The one table printer of the command line (``room list``, ``plugins list``, plugin commands ...).

Columns are left-aligned and two spaces apart, the header row first, trailing spaces trimmed::

    NAME    STATE
    router  enabled
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import click

from nanofolks_core.text import for_terminal


def format_table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a table: each cell ``str()``-ed and made safe with :func:`for_terminal`.

    Cells are cleaned before their widths are measured, so a name or title holding escape
    sequences neither reaches the terminal nor pushes its column out of line.
    """
    table = [[for_terminal(str(cell)) for cell in row] for row in [headers, *rows]]
    for row in table:
        if len(row) != len(headers):
            raise ValueError(f"table row {row!r} has {len(row)} cells; the header has {len(headers)}")
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]


def print_table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> None:
    """Print ``rows`` under ``headers`` as aligned columns (see :func:`format_table`)."""
    for line in format_table(headers, rows):
        click.echo(line)
