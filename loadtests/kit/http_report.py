"""The HTTP benchmark's report: one table of the numbers, one of the CPU each side used, and notes on what may have
distorted them."""

from __future__ import annotations

import os
import platform
from typing import Any

from .http_cells import Row, cell, sdk_ratio, value
from .report import markdown_table, package_version
from .scaleout_report import scale_out_report
from .servers import BASE_KEYS, BASELINE, SERVERS
from .workloads import Settings

# Above this share of one core the generator, not the server, may be what limits a number.
GENERATOR_BUSY = 0.9
# Above this share of one core taken by other processes, a workload's numbers are disturbed.
OTHER_BUSY = 0.2


ROWS = (
    Row("(a) tools/call, {conns} sessions / {conns} conns: calls/s", "ceiling", "calls_per_s", "", True),
    Row("(a) p50 latency", "ceiling", "p50_ms", "ms", False),
    Row("(a) p99 latency", "ceiling", "p99_ms", "ms", False),
    Row("(a) server CPU per call", "ceiling", "server_cpu_us_per_op", "µs", False),
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
    Row("(d) server CPU per session", "per_call", "server_cpu_us_per_op", "µs", False),
    Row("(e) stateless (2026-07-28) tools/call, {conns} conns: calls/s", "stateless", "calls_per_s", "", True),
    Row("(e) p50 latency", "stateless", "p50_ms", "ms", False),
    Row("(e) p99 latency", "stateless", "p99_ms", "ms", False),
    Row("(e) server CPU per call", "stateless", "server_cpu_us_per_op", "µs", False),
)
CPU_ROWS = (
    ("(a) ceiling", "ceiling"),
    ("(b) sequential", "sequential"),
    ("(c) memory", "memory"),
    ("(d) per-call", "per_call"),
    ("(e) stateless", "stateless"),
    ("(f) resumption", "resume"),
)
WORKLOADS = ("ceiling", "sequential", "memory", "per_call", "stateless", "resume")


def report(results: dict[str, dict[str, Any]], settings: Settings) -> str:
    labels = {spec.key: spec.label for spec in SERVERS}
    rows = []
    for row in ROWS:
        cells = [cell(results[k], row.workload, row.field, row.unit) if k in results else "—" for k in BASE_KEYS]
        ferro = value(results.get("ferromcp", {}), row.workload, row.field)
        base = value(results.get(BASELINE, {}), row.workload, row.field)
        label = row.label.format(conns=settings.connections)
        rows.append([label, *cells, sdk_ratio(ferro, base, row.higher_is_better)])
    out = markdown_table(["metric", *(labels[k] for k in BASE_KEYS), "ratio vs SDK JSON"], rows)
    out += scale_out_report(results, settings)

    out += [
        "",
        "CPU during each workload: server (all its processes; with Redis, ferromcp+redis-server) / generator / "
        "other processes, in % of one core; in brackets the machine's busy share of all "
        f"{os.cpu_count()} cores, which also counts the kernel's loopback networking:",
        "",
    ]
    keys = [spec.key for spec in SERVERS if spec.key in results]
    busy: list[str] = []
    saturated: list[str] = []
    noisy: list[str] = []
    rows = []
    for label, workload in CPU_ROWS:
        cells = []
        for key in keys:
            found = results[key].get(workload)
            if not isinstance(found, dict) or "server_cpu" not in found:
                cells.append("—")
                continue
            cells.append(_cpu_cell(found))
            if found.get("other_cpu", 0.0) >= OTHER_BUSY:
                noisy.append(f"{label} for {results[key]['label']}")
            limit = GENERATOR_BUSY * (settings.wrk_threads if found.get("generator", "").startswith("wrk") else 1)
            if found["generator_cpu"] >= limit:
                busy.append(f"{label} for {results[key]['label']}")
            elif found.get("machine_busy", 0.0) >= GENERATOR_BUSY:
                saturated.append(f"{label} for {results[key]['label']}")
        rows.append([label, *cells])
    out += markdown_table(["workload", *(labels[k] for k in keys)], rows)

    notes = [note for key in keys for note in _server_notes(results[key], settings)]
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


def _cpu_cell(found: dict[str, Any]) -> str:
    """server / generator / other (machine); a server with a store (Redis) as "server+store"."""
    server = f"{found['server_cpu'] * 100:.0f}%"
    if "store_cpu" in found:
        server += f"+{found['store_cpu'] * 100:.0f}%"
    shares = [found["generator_cpu"], found.get("other_cpu", float("nan"))]
    machine = found.get("machine_busy", float("nan"))
    return " / ".join([server, *(f"{share * 100:.0f}%" for share in shares)]) + f" ({machine * 100:.0f}%)"


def _server_notes(result: dict[str, Any], settings: Settings) -> list[str]:
    """What went wrong for one server, or may have skewed its numbers."""
    notes: list[str] = []
    if "unavailable" in result:
        notes.append(f"- {result['label']}: unavailable: {result['unavailable'].splitlines()[0]}")
    if "crashed" in result:
        notes.append(f"- {result['label']}: {result['crashed']}")
    for workload in WORKLOADS:
        found = result.get(workload)
        if isinstance(found, dict) and "failed" in found:
            notes.append(f"- {result['label']} {workload}: {found['failed']}")
        elif isinstance(found, dict) and found.get("errors"):
            first = f" (first: {found['first_error']})" if found.get("first_error") else ""
            notes.append(f"- {result['label']} {workload}: {found['errors']} failed requests or sessions{first}")
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
