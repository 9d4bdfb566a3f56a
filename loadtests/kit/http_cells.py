"""Reading the HTTP benchmark's results for its tables: a row's definition, one number of one server's workload,
the table cell that shows it (or why there is none), and the ratios between two servers."""

from __future__ import annotations

import dataclasses
from typing import Any

from .stats import fmt


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    workload: str
    field: str
    unit: str
    higher_is_better: bool | None  # None: no ratio (a count, not a performance figure)


def value(result: dict[str, Any], workload: str, field: str) -> float | None:
    cell = result.get(workload)
    if not isinstance(cell, dict) or field not in cell:
        return None
    return float(cell[field])


def cell(result: dict[str, Any], workload: str, field: str, unit: str) -> str:
    if "unavailable" in result:
        return "unavailable"
    found = result.get(workload)
    if not isinstance(found, dict):
        return "not run"
    if "failed" in found:
        return "failed"
    number = value(result, workload, field)
    if number is None:
        return "n/a"
    if not unit and number.is_integer():
        return f"{number:,.0f}"  # a count
    return fmt(number, unit)


def _usable(number: float | None) -> bool:
    return number is not None and number == number and number > 0


def sdk_ratio(ferro: float | None, base: float | None, higher_is_better: bool | None) -> str:
    """ferromcp against the SDK: "3.1x higher", "2.0x lower" (latency), or "1.5x worse"."""
    if higher_is_better is None or ferro is None or base is None or not _usable(ferro) or not _usable(base):
        return ""
    ratio = ferro / base if higher_is_better else base / ferro
    return f"{ratio:.1f}x {'higher' if higher_is_better else 'lower'}" if ratio >= 1 else f"{1 / ratio:.2f}x worse"


def change(new: float | None, base: float | None) -> str:
    """How much `new` differs from `base`, in percent of `base` ("-12%", "+3%"); empty without both."""
    if new is None or base is None or not _usable(new) or not _usable(base):
        return ""
    return f"{(new / base - 1) * 100:+.0f}%"
