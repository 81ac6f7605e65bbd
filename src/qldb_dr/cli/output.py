"""Tables on the terminal: the one way CLI listings print."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def console(stdout: Any) -> Console:
    """A console on `stdout`: the terminal's width, or no wrapping when piped."""
    terminal = bool(getattr(stdout, "isatty", lambda: False)())
    return Console(file=stdout, highlight=False, width=None if terminal else 100_000)


def table(*columns: str) -> Table:
    grid = Table(show_edge=False, pad_edge=False, box=None)
    for column in columns:
        grid.add_column(column, no_wrap=True)
    return grid
