"""The one table printer every list command (and plugin commands, through the api) uses."""

from __future__ import annotations

import pytest

from nanofolks_core.cli.table import format_table, print_table


def test_columns_are_aligned_two_spaces_apart_with_no_trailing_spaces():
    lines = format_table(("NAME", "STATE", "NOTE"), [("router", "enabled", ""), ("a", "failed", "boom")])
    assert lines == [
        "NAME    STATE    NOTE",
        "router  enabled",
        "a       failed   boom",
    ]


def test_cells_that_are_not_strings_are_printed_as_text():
    assert format_table(("CALLS", "COST"), [(3, 0.5), (None, "-")]) == ["CALLS  COST", "3      0.5", "None   -"]


def test_escape_sequences_in_a_cell_neither_reach_the_terminal_nor_break_the_columns():
    title = "\x1b]0;pwned\x07Pirate\x1b[2J"
    lines = format_table(("NAME", "TITLE", "PLUGIN"), [("pirate", title, "team-pirate")])
    assert "\x1b" not in "".join(lines)
    assert lines == ["NAME    TITLE   PLUGIN", "pirate  Pirate  team-pirate"]


def test_a_row_with_the_wrong_number_of_cells_is_a_clear_error():
    with pytest.raises(ValueError, match="has 1 cells; the header has 2"):
        format_table(("A", "B"), [("only one",)])


def test_print_table_echoes_the_lines(capsys):
    print_table(("A", "B"), [("x", "y")])
    assert capsys.readouterr().out == "A  B\nx  y\n"


def test_plugins_get_it_from_the_api():
    import nanofolks_core.api as api

    assert api.print_table is print_table
    assert "print_table" in api.__all__
