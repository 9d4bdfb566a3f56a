"""stdio benchmark: ferromcp vs. the official MCP Python SDK, the same two tools, side by side.

    python benches/stdio_bench.py                  # ~3 s per cell, Markdown tables on stdout
    python benches/stdio_bench.py --quick          # ~0.5 s per cell (CI smoke)
    python benches/stdio_bench.py --json out.json  # also write the numbers as JSON

Each server runs as a subprocess speaking newline-delimited JSON-RPC on its stdin/stdout. The client is raw and
pipelined rather than the SDK's ClientSession, which costs more per call than ferromcp does to serve one.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

# Run as a script, this file's folder is on sys.path, not the repository root that loadtests.kit is found from.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.kit.procs import peak_rss_kib, process_cpu_seconds
from loadtests.kit.protocol import INITIALIZED, compact_json, initialize_request
from loadtests.kit.report import markdown_table, package_version
from loadtests.kit.stats import percentile

SERVERS_DIR = Path(__file__).resolve().parent / "servers"
CONCURRENCIES = (1, 32)
READ_SIZE = 1 << 16
# How often (in responses) the content is checked in full; every response is checked for being a result.
SAMPLE_EVERY = 256
# Slack on top of a cell's own time budget before the watchdog kills a server that stopped answering.
WATCHDOG_GRACE_S = 30.0
SHUTDOWN_TIMEOUT_S = 10.0


MODERN_VERSION = "2026-07-28"
# A stateless (2026-07-28) request names its version and the client's capabilities in every request's `_meta`.
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclasses.dataclass(frozen=True)
class Workload:
    tool: str
    arguments: dict[str, Any]
    expected_text: str
    # Stateless era: no initialize, `_meta` on every request, a server process of its own.
    modern: bool = False

    @property
    def label(self) -> str:
        args = ", ".join(json.dumps(v) for v in self.arguments.values())
        era = f" [{MODERN_VERSION}]" if self.modern else ""
        return f"{self.tool}({args}){era}"

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"name": self.tool, "arguments": self.arguments}
        if self.modern:
            params["_meta"] = MODERN_META
        return params


WORKLOADS = (
    Workload("echo", {"text": "hello world"}, "hello world"),
    Workload("add", {"a": 1, "b": 2}, "3"),
    Workload("echo", {"text": "hello world"}, "hello world", modern=True),
)


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    key: str
    label: str
    script: Path
    # The SDK needs ~1 ms per sequential call; a thousand of them would be a warm-up longer than the measurement.
    warmup_calls_sequential: int


SERVERS = (
    ServerSpec("ferromcp", "ferromcp", SERVERS_DIR / "ferro_server.py", 1000),
    ServerSpec("sdk", "SDK", SERVERS_DIR / "sdk_server.py", 200),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    duration_s: float
    max_calls: int
    warmup_calls: int
    warmup_s: float


@dataclasses.dataclass
class Phase:
    calls: int
    elapsed_ns: int
    latencies_ns: array.array[int]
    server_cpu_s: float | None
    client_cpu_s: float


@dataclasses.dataclass(frozen=True)
class CellResult:
    server: str
    workload: str
    tool: str
    concurrency: int
    calls: int
    seconds: float
    calls_per_s: float
    p50_us: float
    p99_us: float
    mean_us: float
    server_cpu_pct: float | None
    client_cpu_pct: float


class ServerProcess:
    """One server subprocess and a pipelined JSON-RPC client over its stdin/stdout."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        # Kept for error messages; it lives as long as the server, so close() closes it, not a with block.
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self._proc = subprocess.Popen(
                [sys.executable, str(spec.script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
            )
        except BaseException:
            self._stderr.close()
            raise
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._wfd = self._proc.stdin.fileno()
        self._rfd = self._proc.stdout.fileno()
        self._buffer = b""
        self._next_id = 1
        self._timer: threading.Timer | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid

    # A blocking read of a hung server would hang the run; killing the server turns that read into EOF.
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = threading.Timer(seconds, self._proc.kill)
        self._timer.daemon = True
        self._timer.start()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._wfd, view) :]

    def _read_lines(self) -> list[bytes]:
        chunk = os.read(self._rfd, READ_SIZE)
        if not chunk:
            raise RuntimeError(f"{self.spec.label} server closed its stdout{self._stderr_tail()}")
        lines = (self._buffer + chunk).split(b"\n")
        self._buffer = lines.pop()
        return lines

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        tail = self._stderr.read()[-2000:].decode(errors="replace").strip()
        return f"; its stderr ends with:\n{tail}" if tail else ""

    def handshake(self) -> dict[str, Any]:
        self._arm(WATCHDOG_GRACE_S)
        try:
            self._write(orjson.dumps(initialize_request(0, "bench")) + b"\n")
            lines: list[bytes] = []
            while not lines:
                lines = self._read_lines()
            reply = orjson.loads(lines[0])
            if reply.get("id") != 0 or "result" not in reply:
                raise RuntimeError(f"{self.spec.label}: unexpected initialize reply {reply!r}")
            self._write(compact_json(INITIALIZED) + b"\n")
            return reply["result"]
        finally:
            self._disarm()

    def run(self, workload: Workload, concurrency: int, max_calls: int, duration_s: float) -> Phase:
        """Keeps `concurrency` calls in flight until `max_calls` were sent or `duration_s` passed, then drains.

        One thread does both sides: it writes as many requests as there are free slots in a single write, then
        blocks reading whatever responses are ready. With at most `concurrency` small requests outstanding the
        pipes never fill, so nothing can deadlock, and there is no GIL hand-off between a reader and a writer.
        """
        params = orjson.dumps(workload.params())
        prefix = b'{"jsonrpc":"2.0","id":'
        suffix = b',"method":"tools/call","params":' + params + b"}\n"
        expected = workload.expected_text
        loads = orjson.loads
        clock = time.perf_counter_ns
        sent_at: dict[int, int] = {}
        latencies = array.array("q")
        next_id = self._next_id
        last_id = next_id + max_calls
        checked = False

        self._arm(2 * duration_s + WATCHDOG_GRACE_S)
        try:
            server_cpu0 = process_cpu_seconds(self.pid)
            client_cpu0 = time.process_time()
            start = clock()
            deadline = start + int(duration_s * 1e9)
            sending = True
            while True:
                if sending:
                    free = min(concurrency - len(sent_at), last_id - next_id)
                    now = clock()
                    if now >= deadline or next_id >= last_id:
                        sending = False
                    elif free > 0:
                        batch = []
                        for rid in range(next_id, next_id + free):
                            batch.append(b"%s%d%s" % (prefix, rid, suffix))
                            sent_at[rid] = now
                        next_id += free
                        self._write(b"".join(batch))
                if not sent_at:
                    break
                lines = self._read_lines()
                now = clock()
                for line in lines:
                    msg = loads(line)
                    rid = msg.get("id")
                    if rid is None:
                        continue  # a notification; nothing in these workloads asks for one, but it is legal
                    sent = sent_at.pop(rid, None)
                    if sent is None:
                        raise RuntimeError(f"{self.spec.label}: unexpected message {line.decode()}")
                    latencies.append(now - sent)
                    result = msg.get("result")
                    if result is None or result.get("isError"):
                        raise RuntimeError(f"{self.spec.label}: call {rid} failed: {line.decode()}")
                    if not checked or rid % SAMPLE_EVERY == 0:
                        text = result["content"][0]["text"]
                        if text != expected:
                            raise RuntimeError(f"{self.spec.label}: {workload.tool} returned {text!r}")
                        checked = True
            end = clock()
            client_cpu1 = time.process_time()
            server_cpu1 = process_cpu_seconds(self.pid)
        finally:
            self._disarm()
        self._next_id = next_id
        server_cpu = None if server_cpu0 is None or server_cpu1 is None else server_cpu1 - server_cpu0
        return Phase(len(latencies), end - start, latencies, server_cpu, client_cpu1 - client_cpu0)

    def peak_rss_kib(self) -> int | None:
        return peak_rss_kib(self.pid)

    def close(self) -> None:
        """Closes the server's stdin (its cue to exit) and waits; kills it if it does not exit in time."""
        self._disarm()
        proc = self._proc
        assert proc.stdin is not None
        assert proc.stdout is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        try:
            proc.wait(SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"warning: {self.spec.label} server ignored EOF on stdin; killing it", file=sys.stderr)
            proc.kill()
            proc.wait()
        proc.stdout.close()
        self._stderr.close()


def _summarize(server: str, workload: Workload, concurrency: int, phase: Phase) -> CellResult:
    latencies = sorted(phase.latencies_ns)
    seconds = phase.elapsed_ns / 1e9
    return CellResult(
        server=server,
        workload=workload.label,
        tool=workload.tool,
        concurrency=concurrency,
        calls=phase.calls,
        seconds=round(seconds, 4),
        calls_per_s=round(phase.calls / seconds, 1),
        p50_us=round(percentile(latencies, 50) / 1e3, 1),
        p99_us=round(percentile(latencies, 99) / 1e3, 1),
        mean_us=round(sum(latencies) / len(latencies) / 1e3, 1),
        server_cpu_pct=None if phase.server_cpu_s is None else round(100 * phase.server_cpu_s / seconds, 1),
        client_cpu_pct=round(100 * phase.client_cpu_s / seconds, 1),
    )


def bench_server(spec: ServerSpec, settings: Settings) -> tuple[list[CellResult], int | None, dict[str, Any]]:
    """The legacy workloads on one initialized server, then the stateless ones on a fresh server (no handshake)."""
    server = ServerProcess(spec)
    try:
        init = server.handshake()
        results = _bench_workloads(server, spec, settings, [w for w in WORKLOADS if not w.modern])
        peak = server.peak_rss_kib()
    finally:
        server.close()
    modern = ServerProcess(spec)
    try:
        results += _bench_workloads(modern, spec, settings, [w for w in WORKLOADS if w.modern])
    finally:
        modern.close()
    return results, peak, init.get("serverInfo", {})


def _bench_workloads(
    server: ServerProcess, spec: ServerSpec, settings: Settings, workloads: list[Workload]
) -> list[CellResult]:
    results: list[CellResult] = []
    for workload in workloads:
        for concurrency in CONCURRENCIES:
            warmup = settings.warmup_calls
            if concurrency == 1:
                warmup = min(warmup, spec.warmup_calls_sequential)
            server.run(workload, concurrency, warmup, settings.warmup_s)
            phase = server.run(workload, concurrency, settings.max_calls, settings.duration_s)
            cell = _summarize(spec.key, workload, concurrency, phase)
            print(
                f"  {spec.label:>8} {workload.label:<20} in flight {concurrency:>2}: "
                f"{cell.calls_per_s:>9,.0f} calls/s  p50 {cell.p50_us:>8.1f} µs  p99 {cell.p99_us:>8.1f} µs",
                file=sys.stderr,
                flush=True,
            )
            results.append(cell)
    return results


def _fmt(cell: CellResult | None, field: str, spec: str) -> str:
    value = None if cell is None else getattr(cell, field)
    return "n/a" if value is None else format(value, spec)


def render(results: list[CellResult], peaks: dict[str, int | None]) -> str:
    by_key = {(r.server, r.workload, r.concurrency): r for r in results}
    rows = []
    for workload in WORKLOADS:
        for concurrency in CONCURRENCIES:
            ferro = by_key.get(("ferromcp", workload.label, concurrency))
            sdk = by_key.get(("sdk", workload.label, concurrency))
            ratio = f"{ferro.calls_per_s / sdk.calls_per_s:.1f}x" if ferro and sdk else "n/a"
            rows.append(
                [
                    workload.label,
                    str(concurrency),
                    _fmt(ferro, "calls_per_s", ",.0f"),
                    _fmt(sdk, "calls_per_s", ",.0f"),
                    ratio,
                    _fmt(ferro, "p50_us", ",.1f"),
                    _fmt(ferro, "p99_us", ",.1f"),
                    _fmt(sdk, "p50_us", ",.1f"),
                    _fmt(sdk, "p99_us", ",.1f"),
                ]
            )
    header = ["workload", "in flight", "ferromcp calls/s", "SDK calls/s", "ratio"]
    header += ["ferromcp p50 µs", "ferromcp p99 µs", "SDK p50 µs", "SDK p99 µs"]
    out = markdown_table(header, rows)
    peak_rows = []
    for spec in SERVERS:
        peak = peaks.get(spec.key)
        peak_rows.append([spec.label, "n/a" if peak is None else f"{peak / 1024:.1f}"])
    out += ["", *markdown_table(["server", "peak RSS (VmHWM) MiB"], peak_rows)]
    # Whether the server or this client was the bottleneck: 100% is one core, and this machine's cores are shared.
    labels = {s.key: s.label for s in SERVERS}
    cpu_rows = []
    for r in results:
        cpu = [f"{_fmt(r, 'server_cpu_pct', '.0f')}%", f"{_fmt(r, 'client_cpu_pct', '.0f')}%"]
        cpu_rows.append([labels[r.server], r.workload, str(r.concurrency), *cpu])
    out += ["", *markdown_table(["server", "workload", "in flight", "server CPU", "client CPU"], cpu_rows, left=2)]
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=None, help="seconds per timed phase (default 3)")
    # A safety net on memory and time; by default the duration ends every phase, even ferromcp's fastest.
    parser.add_argument("--max-calls", type=int, default=1_000_000, help="calls per timed phase at most (default 1e6)")
    parser.add_argument("--quick", action="store_true", help="a short run (~0.5 s per phase) for CI smoke")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    if args.duration is None:
        args.duration = 0.5 if args.quick else 3.0
    if args.duration <= 0 or args.max_calls < 1:
        parser.error("--duration and --max-calls must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        duration_s=args.duration,
        max_calls=args.max_calls,
        warmup_calls=200 if args.quick else 1000,
        warmup_s=min(args.duration, 2.0),
    )
    results: list[CellResult] = []
    peaks: dict[str, int | None] = {}
    infos: dict[str, dict[str, Any]] = {}
    for spec in SERVERS:
        print(f"benchmarking {spec.label} ({spec.script.name})", file=sys.stderr, flush=True)
        cells, peaks[spec.key], infos[spec.key] = bench_server(spec, settings)
        results += cells
    print(render(results, peaks))
    if args.json is not None:
        report = {
            "settings": dataclasses.asdict(settings),
            "environment": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "ferromcp": package_version("ferromcp"),
                "mcp": package_version("mcp"),
            },
            "servers": infos,
            "results": [dataclasses.asdict(r) for r in results],
            "peak_rss_kib": peaks,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
