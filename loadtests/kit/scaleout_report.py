"""The HTTP benchmark's scale-out table: ferromcp in one process with sessions in memory, with them in Redis, and
two workers sharing Redis, side by side with the change from one step to the next, then the issue's targets."""

from __future__ import annotations

from typing import Any

from .http_cells import Row, cell, change, value
from .report import markdown_table
from .servers import SCALE_OUT_KEYS, SERVERS
from .stats import fmt
from .workloads import Settings

ROWS = (
    Row("(a) tools/call, {conns} sessions / {conns} conns: calls/s", "ceiling", "calls_per_s", "", True),
    Row("(a) p50 latency", "ceiling", "p50_ms", "ms", False),
    Row("(a) p99 latency", "ceiling", "p99_ms", "ms", False),
    Row("(a) server CPU per call (redis-server's included)", "ceiling", "server_cpu_us_per_op", "µs", False),
    Row("(a) of which redis-server", "ceiling", "store_cpu_us_per_op", "µs", None),
    Row("(b) 1 connection, sequential: p50 latency", "sequential", "p50_ms", "ms", False),
    Row("(b) p99 latency", "sequential", "p99_ms", "ms", False),
    Row("(d) per-call sessions/s (init → initialized → call → DELETE)", "per_call", "sessions_per_s", "", True),
    Row("(d) p99 session latency", "per_call", "p99_ms", "ms", False),
    Row("(d) server CPU per session (redis-server's included)", "per_call", "server_cpu_us_per_op", "µs", False),
    Row("(e) stateless (2026-07-28) tools/call, {conns} conns: calls/s", "stateless", "calls_per_s", "", True),
    Row("(e) p99 latency", "stateless", "p99_ms", "ms", False),
    Row("(e) server CPU per call (redis-server's included)", "stateless", "server_cpu_us_per_op", "µs", False),
    Row("(f) resumptions attempted", "resume", "attempts", "", None),
    Row("(f) of which on the other worker", "resume", "crossed", "", None),
    Row("(f) other worker: GET → first replayed event, p50", "resume", "crossed_first_p50_ms", "ms", False),
    Row("(f) other worker: GET → first replayed event, p99", "resume", "crossed_first_p99_ms", "ms", False),
    Row("(f) other worker: GET → result, p99", "resume", "crossed_end_p99_ms", "ms", False),
    Row("(f) same worker: GET → first replayed event, p50", "resume", "same_first_p50_ms", "ms", False),
    Row("(f) same worker: GET → first replayed event, p99", "resume", "same_first_p99_ms", "ms", False),
)

# The targets: (what, the measured change or value, the limit).
THROUGHPUT_LOSS_MAX = 0.20  # Redis-backed legacy sessions against in memory, (a)
RESUME_P99_MAX_MS = 10.0  # resumption on another worker, (f)
CPU_GROWTH_MAX = 0.10  # per-call CPU, 2 workers against 1 (both on Redis), (a) and (e)


def scale_out_report(results: dict[str, dict[str, Any]], settings: Settings) -> list[str]:
    """The lines of the scale-out section; none unless a scale-out variant ran."""
    if not any(key in results for key in SCALE_OUT_KEYS[1:]):
        return []
    labels = {spec.key: spec.label for spec in SERVERS}
    memory, redis, workers = (results.get(key, {}) for key in SCALE_OUT_KEYS)
    rows = []
    for row in ROWS:
        cells = [cell(results[k], row.workload, row.field, row.unit) if k in results else "—" for k in SCALE_OUT_KEYS]
        ratios = ["", ""]
        if row.higher_is_better is not None:
            ratios = [
                change(value(redis, row.workload, row.field), value(memory, row.workload, row.field)),
                change(value(workers, row.workload, row.field), value(redis, row.workload, row.field)),
            ]
        rows.append([row.label.format(conns=settings.connections), *cells, *ratios])
    out = [
        "",
        "Scale-out: ferromcp with its sessions in memory, in Redis, and 2 workers (one port, SO_REUSEPORT) sharing "
        "Redis. The changes are in % of the step before (for latency and CPU, + is worse):",
        "",
    ]
    out += markdown_table(
        ["metric", *(labels[k] for k in SCALE_OUT_KEYS), "Redis vs memory", "2 workers vs 1 (Redis)"], rows
    )
    out += [
        "",
        "- (c) idle-session memory is not run on the Redis variants: the session records live in redis-server, "
        "whose memory the server's RSS does not count.",
        "- (d) keeps each session on one connection, hence one worker: it measures what creating and deleting a "
        "session in Redis costs. In (a) the sessions are opened on other connections than the ones that use "
        "them, so with 2 workers a call may land on a worker that did not create its session.",
        f"- (f) resumes on a new connection {_resume_delay(results)}, so the missed events come from the event "
        "store (the server's retry hint says 1 s); with 1 worker every resumption is on the same worker "
        "(a reference).",
        "",
        "Targets (on this machine, with the load generator on the same cores):",
        "",
        *_targets(memory, redis, workers),
    ]
    return out


def _resume_delay(results: dict[str, dict[str, Any]]) -> str:
    for key in SCALE_OUT_KEYS:
        delay = value(results.get(key, {}), "resume", "delay_ms")
        pause = value(results.get(key, {}), "resume", "tool_pause_ms")
        if delay is not None and pause is not None:
            return (
                f"{delay:.0f} ms after its stream closed, when the tool (a {pause:.0f} ms pause) has normally finished"
            )
    return "shortly after its stream closed"


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "MISSED")


def _relative(new: float | None, base: float | None) -> float | None:
    if new is None or base is None or new != new or base != base or base <= 0:
        return None
    return new / base - 1


def _targets(memory: dict[str, Any], redis: dict[str, Any], workers: dict[str, Any]) -> list[str]:
    lines = []
    loss = _relative(value(redis, "ceiling", "calls_per_s"), value(memory, "ceiling", "calls_per_s"))
    shown = "n/a" if loss is None else f"{loss * 100:+.0f}%"
    lines.append(
        f"- Redis-backed legacy sessions lose ≤ {THROUGHPUT_LOSS_MAX * 100:.0f}% throughput against in memory: "
        f"(a) {shown}: {_verdict(None if loss is None else loss >= -THROUGHPUT_LOSS_MAX)}"
    )
    p99 = value(workers, "resume", "crossed_first_p99_ms")
    crossed = value(workers, "resume", "crossed")
    p99 = None if p99 is None or p99 != p99 else p99
    detail = "n/a" if p99 is None else f"{fmt(p99, 'ms')} over {crossed:.0f} resumptions"
    lines.append(
        f"- resumption on another worker ≤ {RESUME_P99_MAX_MS:.0f} ms p99 (GET → first replayed event): (f) "
        f"{detail}: {_verdict(None if p99 is None else p99 <= RESUME_P99_MAX_MS)}"
    )
    growths = {
        workload: _relative(
            value(workers, workload, "server_cpu_us_per_op"), value(redis, workload, "server_cpu_us_per_op")
        )
        for workload in ("ceiling", "stateless")
    }
    shown = ", ".join(
        f"({'a' if w == 'ceiling' else 'e'}) {'n/a' if g is None else f'{g * 100:+.0f}%'}" for w, g in growths.items()
    )
    measured = [g for g in growths.values() if g is not None]
    ok = None if not measured else all(g <= CPU_GROWTH_MAX for g in measured)
    lines.append(
        f"- server CPU per call with 2 workers within {CPU_GROWTH_MAX * 100:.0f}% of 1 worker (both on Redis, "
        f"redis-server's CPU included): {shown}: {_verdict(ok)}"
    )
    return lines
