"""Tables for the ``helion-ops`` command: rich where it is installed, aligned
plain text otherwise (rich is not a dependency of helion-ops-core)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO


def plain_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; text columns left-aligned, the others right-aligned."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]
    numeric = [all(_looks_numeric(r[i]) for r in rows) and bool(rows) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out += [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _looks_numeric(cell: str) -> bool:
    text = cell.strip().rstrip("%x").replace("e-", "").replace("e+", "").replace(".", "", 1).lstrip("-")
    return text.isdigit() or cell.strip() in ("n/a", "-", "")


def print_table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]], file: TextIO | None = None
) -> None:
    stream = file or sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(plain_table(title, columns, rows), file=stream)
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    # No terminal width guess when piped: keep every column readable in logs.
    Console(file=stream, width=max(120, _terminal_width(stream)), soft_wrap=False).print(table)


def _terminal_width(stream: TextIO) -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns if stream.isatty() else 200
