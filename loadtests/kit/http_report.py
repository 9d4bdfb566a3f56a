"""The HTTP benchmark's report: one table of the numbers, one of the CPU each side used, and notes on what may have
distorted them."""

from __future__ import annotations

import dataclasses
import os
import platform
from typing import Any

from .report import markdown_table, package_version
from .servers import BASELINE, SERVERS
from .stats import fmt
from .workloads import Settings

# Above this share of one core the generator, not the server, may be what limits a number.
GENERATOR_BUSY = 0.9
# Above this share of one core taken by other processes, a workload's numbers are disturbed.
OTHER_BUSY = 0.2


@dataclasses.dataclass(frozen=True)
class Row:
    label: str
    workload: str
    field: str
    unit: str
    higher_is_better: bool | None  # None: no ratio (a count, not a performance figure)


ROWS = (
    Row("(a) tools/call, {conns} sessions / {conns} conns: calls/s", "ceiling", "calls_per_s", "", True),
    Row("(a) p50 latency", "ceiling", "p50_ms", "ms", False),
    Row("(a) p99 latency", "ceiling", "p99_ms", "ms", False),
    Row("(b) 1 connection, sequential: p50 latency", "sequential", "p50_ms", "ms", False),
    Row("(b) p99 latency", "sequential", "p99_ms", "ms", False),
    Row("(b) calls/s (1 / mean latency)", "sequential", "calls_per_s", "", True),
    Row("(c) idle sessions opened (within budget)", "memory", "sessions", "", None),
    Row("(c) RSS before", "memory", "rss_before_mb", "MB", False),
    Row("(c) RSS added by the idle sessions", "memory", "added_mb", "MB", None),
    Row("(c) RSS per 1k idle sessions", "memory", "mb_per_1k", "MB", False),
    Row("(c) session setup rate (init + initialized)", "memory", "sessions_per_s", "/s", True),
    Row("(d) per-call sessions/s (init → initialized → call → DELETE)", "per_call", "sessions_per_s", "", True),
    Row("(d) p50 session latency", "per_call", "p50_ms", "ms", False),
    Row("(d) p99 session latency", "per_call", "p99_ms", "ms", False),
    Row("(e) stateless (2026-07-28) tools/call, {conns} conns: calls/s", "stateless", "calls_per_s", "", True),
    Row("(e) p50 latency", "stateless", "p50_ms", "ms", False),
    Row("(e) p99 latency", "stateless", "p99_ms", "ms", False),
)
CPU_ROWS = (
    ("(a) ceiling", "ceiling"),
    ("(b) sequential", "sequential"),
    ("(c) memory", "memory"),
    ("(d) per-call", "per_call"),
    ("(e) stateless", "stateless"),
)
SERVER_COLUMNS = ("ferromcp", "SDK (JSON)", "SDK (SSE)")


def _value(result: dict[str, Any], workload: str, field: str) -> float | None:
    cell = result.get(workload)
    if not isinstance(cell, dict) or field not in cell:
        return None
    return float(cell[field])


def _cell(result: dict[str, Any], workload: str, field: str, unit: str) -> str:
    if "unavailable" in result:
        return "unavailable"
    cell = result.get(workload)
    if not isinstance(cell, dict):
        return "not run"
    if "failed" in cell:
        return "failed"
    value = _value(result, workload, field)
    return "n/a" if value is None else fmt(value, unit)


def _ratio(ferro: float | None, base: float | None, higher_is_better: bool | None) -> str:
    if higher_is_better is None or ferro is None or base is None or ferro <= 0 or base <= 0:
        return ""
    if ferro != ferro or base != base:
        return ""
    ratio = ferro / base if higher_is_better else base / ferro
    return f"{ratio:.1f}x {'higher' if higher_is_better else 'lower'}" if ratio >= 1 else f"{1 / ratio:.2f}x worse"


def report(results: dict[str, dict[str, Any]], settings: Settings) -> str:
    keys = [spec.key for spec in SERVERS]
    rows = []
    for row in ROWS:
        cells = [_cell(results[k], row.workload, row.field, row.unit) if k in results else "—" for k in keys]
        ferro = _value(results.get("ferromcp", {}), row.workload, row.field)
        base = _value(results.get(BASELINE, {}), row.workload, row.field)
        label = row.label.format(conns=settings.connections)
        rows.append([label, *cells, _ratio(ferro, base, row.higher_is_better)])
    out = markdown_table(["metric", *SERVER_COLUMNS, "ratio vs SDK JSON"], rows)

    out += [
        "",
        "CPU during each workload: server / generator / other processes, in % of one core; in brackets the "
        f"machine's busy share of all {os.cpu_count()} cores, which also counts the kernel's loopback networking:",
        "",
    ]
    busy: list[str] = []
    saturated: list[str] = []
    noisy: list[str] = []
    rows = []
    for label, workload in CPU_ROWS:
        cells = []
        for key in keys:
            cell = results.get(key, {}).get(workload)
            if not isinstance(cell, dict) or "server_cpu" not in cell:
                cells.append("—")
                continue
            shares = [cell["server_cpu"], cell["generator_cpu"], cell.get("other_cpu", float("nan"))]
            machine = cell.get("machine_busy", float("nan"))
            cells.append(" / ".join(f"{share * 100:.0f}%" for share in shares) + f" ({machine * 100:.0f}%)")
            if cell.get("other_cpu", 0.0) >= OTHER_BUSY:
                noisy.append(f"{label} for {results[key]['label']}")
            limit = GENERATOR_BUSY * (settings.wrk_threads if cell.get("generator", "").startswith("wrk") else 1)
            if cell["generator_cpu"] >= limit:
                busy.append(f"{label} for {results[key]['label']}")
            elif cell.get("machine_busy", 0.0) >= GENERATOR_BUSY:
                saturated.append(f"{label} for {results[key]['label']}")
        rows.append([label, *cells])
    out += markdown_table(["workload", *SERVER_COLUMNS], rows)

    notes = [note for key in keys if key in results for note in _server_notes(results[key], settings)]
    if busy:
        notes.append(
            "- generator near its CPU limit (the number may be the generator's, not the server's): " + ", ".join(busy)
        )
    if noisy:
        notes.append(
            "- other processes took CPU during (numbers disturbed; rerun on a quiet machine): " + ", ".join(noisy)
        )
    if saturated:
        notes.append(
            "- every core busy, so generator and server compete for CPU and the server's number is a floor: "
            + ", ".join(saturated)
        )
    if notes:
        out += ["", *notes]
    return "\n".join(out)


def _server_notes(result: dict[str, Any], settings: Settings) -> list[str]:
    """What went wrong for one server, or may have skewed its numbers."""
    notes: list[str] = []
    if "unavailable" in result:
        notes.append(f"- {result['label']}: unavailable: {result['unavailable'].splitlines()[0]}")
    if "crashed" in result:
        notes.append(f"- {result['label']}: {result['crashed']}")
    for workload in ("ceiling", "sequential", "memory", "per_call", "stateless"):
        cell = result.get(workload)
        if isinstance(cell, dict) and "failed" in cell:
            notes.append(f"- {result['label']} {workload}: {cell['failed']}")
        elif isinstance(cell, dict) and cell.get("errors"):
            first = f" (first: {cell['first_error']})" if cell.get("first_error") else ""
            notes.append(f"- {result['label']} {workload}: {cell['errors']} failed requests or sessions{first}")
    memory = result.get("memory")
    if isinstance(memory, dict) and "complete" in memory and not memory["complete"]:
        notes.append(
            f"- {result['label']} memory: {memory['sessions']:,} of {memory['target']:,} sessions within the "
            f"{settings.memory_budget_s:.0f} s budget"
        )
    ceiling = result.get("ceiling")
    if isinstance(ceiling, dict) and "generator" in ceiling:
        notes.append(f"- {result['label']} ceiling generator: {ceiling['generator']}")
    if isinstance(ceiling, dict) and ceiling.get("sessions_ok_after", ceiling.get("sessions")) != ceiling.get(
        "sessions"
    ):
        notes.append(
            f"- {result['label']} ceiling: only {ceiling['sessions_ok_after']} of {ceiling['sessions']} sessions "
            "still answered a call afterwards; the calls/s may include fast rejections"
        )
    return notes


def versions() -> dict[str, str]:
    """Python, the machine and the installed packages that the numbers depend on, for the JSON output."""
    found = {"python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    for dist in ("ferromcp", "mcp", "uvicorn", "uvloop"):
        version = package_version(dist)
        if version is not None:
            found[dist] = version
    return found
