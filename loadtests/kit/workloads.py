"""The HTTP benchmark's settings and its workloads (b)-(d), each against one running server, each returning its
numbers as a dict:

  (b) sequential            tools/call echo on one connection, one call at a time
  (c) idle_sessions_memory  the RSS that thousands of opened, then idle sessions add
  (d) per_call_sessions     whole sessions (initialize, initialized, tools/call, DELETE) per second

Workloads (a) and (e), the ceilings, are in ceiling.py; (f), SSE resumption, in resume.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from .connections import AsyncConnection, SyncConnection, bounded, open_session_async, run_async
from .http_wire import (
    ProtocolError,
    Requests,
    check_accepted,
    check_deleted,
    check_echo,
    check_session_opened,
    quick_ok,
)
from .procs import rss_bytes
from .servers import ServerProcess
from .stats import percentile


@dataclasses.dataclass(frozen=True)
class Settings:
    duration_s: float
    warmup_s: float
    connections: int
    wrk_threads: int
    sequential_warmup: int
    sequential_budget_s: float
    memory_sessions: int
    memory_budget_s: float
    memory_connections: int
    per_call_workers: int
    per_call_duration_s: float
    pipeline: int
    quiet_wait_s: float
    # (f): resumptions to attempt, the client's wait before resuming, the most time they may take
    resume_count: int = 200
    resume_delay_s: float = 0.02
    resume_budget_s: float = 30.0


@dataclasses.dataclass
class Failures:
    """Failed requests or sessions of a workload: counted, and the first one kept to say what went wrong."""

    limit: int
    count: int = 0
    first: str | None = None

    def add(self, exc: BaseException) -> None:
        self.count += 1
        if self.first is None:
            self.first = f"{type(exc).__name__}: {exc}"

    @property
    def too_many(self) -> bool:
        return self.count >= self.limit

    def as_dict(self) -> dict[str, Any]:
        return {"errors": self.count, "first_error": self.first} if self.count else {"errors": 0}


# (b) ----------------------------------------------------------------------------------------------------------------


def sequential(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    requests = Requests(server.port)
    conn = SyncConnection(server.port)
    try:
        sid = check_session_opened(conn.request(requests.initialize))
        check_accepted(conn.request(requests.initialized(sid)))
        # Built up front so that the timed loop is a send and a receive, nothing else.
        calls = server.spec.sequential_calls
        raws = [requests.echo(sid, k) for k in range(settings.sequential_warmup + calls)]
        for raw in raws[: settings.sequential_warmup]:
            check_echo(conn.request(raw))
        latencies: list[float] = []
        errors = 0
        clock = time.perf_counter
        meter = server.cpu_meter()
        with meter.measure():
            give_up = clock() + settings.sequential_budget_s
            for raw in raws[settings.sequential_warmup :]:
                start = clock()
                response = conn.request(raw)
                latencies.append(clock() - start)
                if not quick_ok(response):
                    errors += 1
                if start > give_up:
                    break
        check_deleted(conn.request(requests.delete(sid)))
    finally:
        conn.close()
    latencies.sort()
    calls_per_s = len(latencies) / sum(latencies) if latencies else 0.0
    return {
        "calls": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "calls_per_s": calls_per_s,
        **meter.as_dict(per_s=calls_per_s),
    }


# (c) ----------------------------------------------------------------------------------------------------------------


def idle_sessions_memory(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    target = settings.memory_sessions

    async def run() -> dict[str, Any]:
        requests = Requests(server.port)
        counts = {"opened": 0, "claimed": 0}
        failures = Failures(limit=100)
        deadline = time.perf_counter() + settings.memory_budget_s

        async def worker() -> None:
            conn = await AsyncConnection.open(server.port)
            try:
                while counts["claimed"] < target and time.perf_counter() < deadline and not failures.too_many:
                    counts["claimed"] += 1
                    try:
                        await open_session_async(conn, requests)
                        counts["opened"] += 1
                    except (ProtocolError, ValueError, OSError) as exc:
                        failures.add(exc)
                        if conn.lost:
                            conn = await AsyncConnection.open(server.port)
            finally:
                conn.close()

        meter = server.cpu_meter()
        with meter.measure():
            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(settings.memory_connections)))
            elapsed = time.perf_counter() - start
        return {
            "opened": counts["opened"],
            **failures.as_dict(),
            "elapsed_s": elapsed,
            **meter.as_dict(),
        }

    time.sleep(0.5)  # let start-up allocations settle before the baseline
    before = rss_bytes(server.pid)
    outcome = run_async(bounded(run(), settings.memory_budget_s))
    time.sleep(1.0)  # idle: whatever the server frees after the burst is freed by now
    after = rss_bytes(server.pid)
    opened = outcome["opened"]
    added_mb = (after - before) / 1e6
    return {
        "target": target,
        "sessions": opened,
        "errors": outcome["errors"],
        "first_error": outcome.get("first_error"),
        "complete": opened >= target,
        "rss_before_mb": before / 1e6,
        "rss_after_mb": after / 1e6,
        "added_mb": added_mb,
        "mb_per_1k": added_mb / opened * 1000 if opened else float("nan"),
        "sessions_per_s": opened / outcome["elapsed_s"] if outcome["elapsed_s"] else 0.0,
        "server_cpu": outcome["server_cpu"],
        "generator_cpu": outcome["generator_cpu"],
        "machine_busy": outcome["machine_busy"],
        "other_cpu": outcome["other_cpu"],
    }


# (d) ----------------------------------------------------------------------------------------------------------------


def per_call_sessions(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        requests = Requests(server.port)
        sessions = 0
        failures = Failures(limit=1000)
        latencies: list[float] = []
        clock = time.perf_counter

        async def worker(until: float, record: bool) -> None:
            nonlocal sessions
            conn = await AsyncConnection.open(server.port)
            try:
                while clock() < until and not failures.too_many:
                    start = clock()
                    try:
                        sid = check_session_opened(await conn.send(requests.initialize))
                        check_accepted(await conn.send(requests.initialized(sid)))
                        if not quick_ok(await conn.send(requests.echo(sid))):
                            raise ProtocolError("tools/call echo did not return a result")
                        check_deleted(await conn.send(requests.delete(sid)))
                    except (ProtocolError, ValueError, OSError) as exc:
                        failures.add(exc)
                        if conn.lost:
                            conn = await AsyncConnection.open(server.port)
                        continue
                    if record:
                        sessions += 1
                        latencies.append(clock() - start)
            finally:
                conn.close()

        workers = settings.per_call_workers
        await asyncio.gather(*(worker(clock() + settings.warmup_s, False) for _ in range(workers)))
        warmup_failures = failures.as_dict()
        failures.count, failures.first = 0, None
        meter = server.cpu_meter()
        with meter.measure():
            start = clock()
            await asyncio.gather(*(worker(start + settings.per_call_duration_s, True) for _ in range(workers)))
            elapsed = clock() - start
        latencies.sort()
        return {
            "workers": workers,
            "sessions": sessions,
            **failures.as_dict(),
            "warmup_errors": warmup_failures["errors"],
            "sessions_per_s": sessions / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            **meter.as_dict(per_s=sessions / elapsed),
        }

    return run_async(bounded(run(), settings.per_call_duration_s + settings.warmup_s))
