"""What the benchmark reports are made of: Markdown tables and the versions of what was measured."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    """The lines of a Markdown table: the first `left` columns aligned left, the others right."""
    align = ["---"] * left + ["---:"] * (len(header) - left)
    return [_line(header), f"|{'|'.join(align)}|", *(_line(row) for row in rows)]


def _line(cells: Sequence[str]) -> str:
    return f"| {' | '.join(cells)} |"


def package_version(dist: str) -> str | None:
    """The installed version of a distribution, or None if it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
