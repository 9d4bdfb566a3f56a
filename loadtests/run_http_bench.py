"""HTTP load test: ferromcp vs. the official MCP Python SDK over Streamable HTTP, the same two tools, side by side,
and ferromcp scaled out (sessions in Redis, 2 workers sharing Redis) in the same run.

    python loadtests/run_http_bench.py                    # full run (~6 min), Markdown tables on stdout
    python loadtests/run_http_bench.py --quick            # short everything (CI smoke, ~2 min)
    python loadtests/run_http_bench.py --only sdk-json    # one server (repeat --only, or comma-separate, for more)
    python loadtests/run_http_bench.py --json out.json    # also write every number as JSON

Servers: ferromcp (its default mode: plain JSON answers for tool calls), ferromcp with its sessions in Redis
(--redis-url), ferromcp as 2 workers on one port sharing Redis (--workers 2), the SDK in JSON mode
(json_response=True) and the SDK in its default SSE mode. Each runs as a subprocess on a free 127.0.0.1 port; the
driver starts one redis-server (free port, no persistence, emptied before each server) when a Redis variant runs.
Workloads:

  (a) ceiling     tools/call echo, 64 sessions over 64 keep-alive connections, driven by wrk (tools_call.lua);
                  without wrk, a pipelined raw-asyncio generator (slower, said so in the output)
  (b) sequential  tools/call echo on one keep-alive connection, one call at a time: p50/p99 latency
  (c) memory      VmRSS of a fresh server before and after opening 10,000 sessions (initialize + initialized,
                  then idle), within a time budget (not on the Redis variants)
  (d) per-call    sessions/s for initialize -> initialized -> tools/call -> DELETE, 32 concurrent workers
  (e) stateless   as (a) in the stateless era (2026-07-28): no sessions, the version and client capabilities in
                  each request's _meta, the routing headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name) on each
  (f) resumption  ferromcp only: a tool closes its SSE stream midway, the client resumes with GET + Last-Event-ID
                  on a new connection; time to the first replayed event, split by whether the GET landed on
                  the POST's worker or the other one

The clients are raw HTTP/1.1 (asyncio protocol on uvloop, or a blocking socket for (b) and (f)): an off-the-shelf
HTTP client costs more per request than ferromcp spends serving one. Generator and server share this machine's
cores, so the CPU each used is reported next to the numbers, and the server's CPU per call.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Run as a script, this file's folder is on sys.path, not the repository root that loadtests.kit is found from.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.kit.ceiling import ceiling_python, ceiling_wrk
from loadtests.kit.http_report import report, versions
from loadtests.kit.procs import wait_until_quiet
from loadtests.kit.redis import RedisServer, RedisUnavailable, running_redis
from loadtests.kit.resume import resume_elsewhere
from loadtests.kit.servers import SERVERS, ServerSpec, ServerUnavailable, running_server
from loadtests.kit.workloads import Settings, idle_sessions_memory, per_call_sessions, sequential

QUIET_WAIT_S = 30.0


def _attempt(results: dict[str, Any], key: str, fn: Callable[[], dict[str, Any]], quiet_wait_s: float) -> None:
    """Runs one workload; a failure is recorded against that cell and the run goes on to the next."""
    print(f"    {key} ...", end="", flush=True, file=sys.stderr)
    quiet = wait_until_quiet(quiet_wait_s)
    started = time.perf_counter()
    try:
        results[key] = {**fn(), "machine_busy_before": quiet}
    except Exception as exc:
        results[key] = {"failed": f"{type(exc).__name__}: {exc}", "machine_busy_before": quiet}
    print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr)


def bench_server(
    spec: ServerSpec, settings: Settings, wrk: str | None, work_dir: Path, redis: RedisServer | None
) -> dict[str, Any]:
    results: dict[str, Any] = {"label": spec.label}
    print(f"  {spec.label}", file=sys.stderr)
    store: dict[str, Any] = {}
    if spec.redis and redis is not None:
        redis.flush()  # every Redis variant starts from an empty store
        store = {"redis_url": redis.url, "store_pid": redis.pid}
    quiet_s = settings.quiet_wait_s
    try:
        with running_server(spec, work_dir, **store) as server:
            # Sequential first, on a server nothing else has loaded yet.
            _attempt(results, "sequential", lambda: sequential(server, settings), quiet_s)
            if wrk:
                _attempt(results, "ceiling", lambda: ceiling_wrk(server, settings, wrk, work_dir), quiet_s)
                _attempt(
                    results,
                    "stateless",
                    lambda: ceiling_wrk(server, settings, wrk, work_dir, stateless=True),
                    quiet_s,
                )
            else:
                _attempt(results, "ceiling", lambda: ceiling_python(server, settings), quiet_s)
                _attempt(results, "stateless", lambda: ceiling_python(server, settings, stateless=True), quiet_s)
            _attempt(results, "per_call", lambda: per_call_sessions(server, settings), quiet_s)
            if spec.resume:
                _attempt(results, "resume", lambda: resume_elsewhere(server, settings), quiet_s)
            if server.process.poll() is not None:
                results["crashed"] = f"server exited with status {server.process.returncode}:\n{server.log_tail()}"
        if spec.memory:
            # A fresh process, so the baseline holds none of the sessions and buffers the other workloads left.
            with running_server(spec, work_dir, spec.memory_args, **store) as server:
                _attempt(results, "memory", lambda: idle_sessions_memory(server, settings), quiet_s)
    except ServerUnavailable as exc:
        results["unavailable"] = str(exc)
    return results


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of (a) and (d) per server (default 10)")
    parser.add_argument("--quick", action="store_true", help="short everything: a smoke run, not a measurement")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="ferromcp, ferromcp-redis, ferromcp-2w-redis, sdk-json or sdk-sse; repeat or comma-separate for "
        "several (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python generator for (a) even if wrk exists")
    parser.add_argument("--connections", type=int, default=64, help="(a) sessions and connections (default 64)")
    parser.add_argument("--pipeline", type=int, default=8, help="(a) depth of the Python generator (default 8)")
    parser.add_argument("--memory-sessions", type=int, help="(c) sessions to open (default 10,000; 1,000 with --quick)")
    parser.add_argument("--memory-budget", type=float, help="(c) seconds allowed (default 60; 10 with --quick)")
    parser.add_argument("--resumptions", type=int, help="(f) resumptions per server (default 200; 40 with --quick)")
    parser.add_argument(
        "--resume-delay", type=float, default=20.0, help="(f) ms the client waits before resuming (default 20)"
    )
    args = parser.parse_args(argv)
    known = {spec.key for spec in SERVERS}
    args.only = [key.strip() for item in args.only for key in item.split(",") if key.strip()]
    unknown = set(args.only) - known
    if unknown:
        parser.error(f"unknown server(s) {sorted(unknown)}; choose from {sorted(known)}")
    if args.duration <= 0 or args.connections < 1 or args.pipeline < 1:
        parser.error("--duration, --connections and --pipeline must be positive")
    if (args.resumptions is not None and args.resumptions < 1) or args.resume_delay < 0:
        parser.error("--resumptions must be positive and --resume-delay not negative")
    return args


def settings_from(args: argparse.Namespace) -> Settings:
    quick = args.quick
    duration = 2.0 if quick else args.duration
    return Settings(
        duration_s=duration,
        warmup_s=1.0 if quick else min(2.0, max(1.0, duration / 5)),
        connections=args.connections,
        wrk_threads=min(2, args.connections),
        sequential_warmup=20 if quick else 100,
        sequential_budget_s=5.0 if quick else 20.0,
        memory_sessions=args.memory_sessions or (1000 if quick else 10_000),
        memory_budget_s=args.memory_budget or (10.0 if quick else 60.0),
        memory_connections=32,
        per_call_workers=32,
        per_call_duration_s=duration,
        pipeline=args.pipeline,
        quiet_wait_s=5.0 if quick else QUIET_WAIT_S,
        resume_count=args.resumptions or (40 if quick else 200),
        resume_delay_s=args.resume_delay / 1000,
        resume_budget_s=10.0 if quick else 30.0,
    )


def _raise_on_sigterm(signum: int, frame: object) -> None:
    # SystemExit unwinds through the context managers, which stop the servers.
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    specs = [spec for spec in SERVERS if not args.only or spec.key in args.only]
    if args.quick:
        specs = [dataclasses.replace(s, sequential_calls=s.sequential_calls // 10) for s in specs]
    wrk = None if args.no_wrk else shutil.which("wrk")
    if wrk is None and not args.no_wrk:
        print(
            "NOTE: wrk is not installed (Debian/Ubuntu: apt-get install wrk); (a) falls back to the Python asyncio "
            f"generator (pipeline {settings.pipeline}), which saturates a core well below ferromcp's ceiling.",
            file=sys.stderr,
        )
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ferromcp-http-bench-") as tmp, contextlib.ExitStack() as stack:
        work_dir = Path(tmp)
        redis: RedisServer | None = None
        redis_missing = ""
        if any(spec.redis for spec in specs):
            try:
                redis = stack.enter_context(running_redis())
            except RedisUnavailable as exc:
                redis_missing = str(exc)
                print(f"NOTE: {exc}; the Redis variants are skipped.", file=sys.stderr)
        for spec in specs:
            if spec.redis and redis is None:
                results[spec.key] = {"label": spec.label, "unavailable": redis_missing}
                continue
            results[spec.key] = bench_server(spec, settings, wrk, work_dir, redis)
    text = report(results, settings)
    print(text)
    if args.json:
        payload = {"settings": dataclasses.asdict(settings), "versions": versions(), "results": results}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
