"""Workload (a) of the HTTP benchmark, the ceiling: tools/call echo on many sessions over as many keep-alive
connections at once, driven by wrk (wrk/tools_call.lua) or, without it, by a pipelined asyncio generator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .connections import AsyncConnection, bounded, open_session_async, run_async
from .http_wire import HOST, MCP_PATH, ProtocolError, Requests, quick_ok
from .procs import CpuMeter
from .servers import ServerProcess
from .stats import percentile
from .workloads import Settings

WRK_SCRIPT = Path(__file__).resolve().parent.parent / "wrk" / "tools_call.lua"


async def _open_sessions(port: int, count: int) -> tuple[list[AsyncConnection], list[bytes]]:
    requests = Requests(port)
    conns = [await AsyncConnection.open(port) for _ in range(count)]
    ids = [await open_session_async(conn, requests) for conn in conns]
    return conns, ids


def ceiling_wrk(
    server: ServerProcess, settings: Settings, wrk: str, work_dir: Path, *, stateless: bool = False
) -> dict[str, Any]:
    """Legacy: tools/call on sessions opened beforehand. Stateless (2026-07-28): no sessions, `_meta` and routing
    headers on every request."""

    async def make() -> list[bytes]:
        conns, ids = await _open_sessions(server.port, settings.connections)
        for conn in conns:
            conn.close()
        return ids

    ids = [] if stateless else run_async(bounded(make(), 30))
    sessions_file = work_dir / f"sessions-{server.spec.key}-{server.port}.txt"
    sessions_file.write_text("".join(f"{sid.decode()}\n" for sid in ids))

    def wrk_run(duration_s: float, check: bool) -> tuple[dict[str, Any], CpuMeter]:
        argv = [
            wrk,
            "-t",
            str(settings.wrk_threads),
            "-c",
            str(settings.connections),
            "-d",
            f"{max(1, round(duration_s))}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            f"http://{HOST}:{server.port}{MCP_PATH}",
            "--",
            str(sessions_file),
            str(settings.wrk_threads),
        ]
        env = {**os.environ, "MCP_WRK_CHECK": "1" if check else "0", "MCP_WRK_STATELESS": "1" if stateless else "0"}
        meter = server.cpu_meter(external_generator=True)
        with meter.measure():
            done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration_s + 60, check=False)
        for line in done.stdout.splitlines():
            if line.startswith("MCP_WRK_RESULT "):
                return json.loads(line.removeprefix("MCP_WRK_RESULT ")), meter
        raise RuntimeError(f"wrk printed no result (exit {done.returncode}): {done.stdout[-500:]} {done.stderr[-500:]}")

    # The warm-up doubles as the correctness check: it reads every response, which the measured run cannot afford.
    warm, _ = wrk_run(settings.warmup_s, check=True)
    if warm["bad"] or warm["checked"] == 0:
        raise ProtocolError(f"wrk validation run: {warm['bad']} of {warm['checked']} responses were not results")
    result, meter = wrk_run(settings.duration_s, check=False)
    errors = sum(
        result[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_status", "errors_timeout")
    )
    # The sessions must still be good afterwards, or the calls counted may have been fast rejections.
    after = run_async(bounded(_calls_still_work(server.port, ids), 30)) if ids else 0
    return {
        "generator": f"wrk -t {settings.wrk_threads} -c {settings.connections}",
        "calls_per_s": result["rps"],
        "p50_ms": result["p50_us"] / 1000,
        "p90_ms": result["p90_us"] / 1000,
        "p99_ms": result["p99_us"] / 1000,
        "calls": result["requests"],
        "errors": errors,
        "sessions": result["sessions"],
        "validated_responses": warm["checked"],
        "sessions_ok_after": after,
        **meter.as_dict(per_s=result["rps"]),
    }


async def _calls_still_work(port: int, ids: Sequence[bytes]) -> int:
    requests = Requests(port)
    conn = await AsyncConnection.open(port)
    ok = 0
    try:
        for sid in ids:
            if quick_ok(await conn.send(requests.echo(sid, 7))):
                ok += 1
    finally:
        conn.close()
    return ok


def ceiling_python(server: ServerProcess, settings: Settings, *, stateless: bool = False) -> dict[str, Any]:
    async def connection_loop(conn: AsyncConnection, sid: bytes, index: int, until: float, out: dict[str, Any]) -> None:
        requests = Requests(server.port)
        # A batch of distinct ids: the SDK routes a response by request id within a session.
        ids = [index * 1_000_000 + k for k in range(settings.pipeline)]
        batch = [requests.echo_stateless(i) if stateless else requests.echo(sid, i) for i in ids]
        raw = b"".join(batch)
        latencies: list[float] = out["latencies"]
        clock = time.perf_counter
        while clock() < until:
            sent = clock()
            for future in conn.send_batch(raw, settings.pipeline):
                response = await future
                latencies.append(clock() - sent)
                if quick_ok(response):
                    out["calls"] += 1
                else:
                    out["errors"] += 1

    async def run() -> dict[str, Any]:
        if stateless:
            conns = [await AsyncConnection.open(server.port) for _ in range(settings.connections)]
            ids = [b""] * len(conns)
        else:
            conns, ids = await _open_sessions(server.port, settings.connections)
        warm_until = time.perf_counter() + settings.warmup_s
        scratch: dict[str, Any] = {"latencies": [], "calls": 0, "errors": 0}
        await asyncio.gather(
            *(connection_loop(c, s, i, warm_until, scratch) for i, (c, s) in enumerate(zip(conns, ids, strict=True)))
        )
        out: dict[str, Any] = {"latencies": [], "calls": 0, "errors": 0}
        meter = server.cpu_meter()
        with meter.measure():
            start = time.perf_counter()
            until = start + settings.duration_s
            await asyncio.gather(
                *(connection_loop(c, s, i, until, out) for i, (c, s) in enumerate(zip(conns, ids, strict=True)))
            )
            elapsed = time.perf_counter() - start
        for conn in conns:
            conn.close()
        latencies = sorted(out["latencies"])
        return {
            "generator": f"python asyncio, {settings.connections} connections, pipeline {settings.pipeline}",
            "calls_per_s": out["calls"] / elapsed,
            "p50_ms": percentile(latencies, 50) * 1000,
            "p90_ms": percentile(latencies, 90) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "calls": out["calls"],
            "errors": out["errors"],
            "sessions": 0 if stateless else len(ids),
            **meter.as_dict(per_s=out["calls"] / elapsed),
        }

    return run_async(bounded(run(), settings.duration_s + settings.warmup_s + 30))
