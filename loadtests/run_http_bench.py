"""HTTP load test: ferromcp vs. the official MCP Python SDK over Streamable HTTP, the same two tools, side by side.

    python loadtests/run_http_bench.py                    # full run (~5 min), Markdown tables on stdout
    python loadtests/run_http_bench.py --quick            # short everything (CI smoke, ~1 min)
    python loadtests/run_http_bench.py --only sdk-json    # one server (repeat --only, or comma-separate, for more)
    python loadtests/run_http_bench.py --json out.json    # also write every number as JSON

Servers: ferromcp (its default mode: plain JSON answers for tool calls), the SDK in JSON mode (json_response=True)
and the SDK in its default SSE mode. Each runs as a subprocess on a free 127.0.0.1 port. Workloads:

  (a) ceiling     tools/call echo, 64 sessions over 64 keep-alive connections, driven by wrk (tools_call.lua);
                  without wrk, a pipelined raw-asyncio generator (slower, said so in the output)
  (b) sequential  tools/call echo on one keep-alive connection, one call at a time: p50/p99 latency
  (c) memory      VmRSS of a fresh server before and after opening 10,000 sessions (initialize + initialized,
                  then idle), within a time budget
  (d) per-call    sessions/s for initialize -> initialized -> tools/call -> DELETE, 32 concurrent workers

The clients are raw HTTP/1.1 (asyncio protocol on uvloop, or a blocking socket for (b)): an off-the-shelf HTTP
client costs more per request than ferromcp spends serving one. Generator and server share this machine's cores,
so the CPU each used is reported next to the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

HERE = Path(__file__).resolve().parent
SERVERS_DIR = HERE / "servers"
WRK_SCRIPT = HERE / "wrk" / "tools_call.lua"
HOST = "127.0.0.1"
MCP_PATH = "/mcp"
PROTOCOL_VERSION = "2025-11-25"
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 5.0
# Slack on top of a workload's own budget before its watchdog gives up on a server that stopped answering.
WATCHDOG_GRACE_S = 30.0
# Above this share of one core the generator, not the server, may be what limits a number.
GENERATOR_BUSY = 0.9
# Above this share of one core taken by other processes, a workload's numbers are disturbed.
OTHER_BUSY = 0.2
QUIET_WAIT_S = 30.0

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------------------------
# Settings and servers


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


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    key: str
    label: str
    script: Path
    args: tuple[str, ...]
    # The SDK needs about a millisecond per sequential call; ferromcp's count would make its cell ten seconds long.
    sequential_calls: int
    memory_args: tuple[str, ...] = ()


SERVERS = (
    # (c) opens 10,000 sessions, exactly the servers' default cap: the headroom keeps a session that has not quite
    # ended yet (the readiness probe's) from turning the last ones into 503s.
    ServerSpec("ferromcp", "ferromcp", SERVERS_DIR / "ferro_http.py", (), 10_000, ("--max-sessions", "20000")),
    ServerSpec(
        "sdk-json", "SDK (JSON)", SERVERS_DIR / "sdk_http.py", ("--json-response",), 1000, ("--max-sessions", "20000")
    ),
    ServerSpec("sdk-sse", "SDK (SSE)", SERVERS_DIR / "sdk_http.py", (), 1000, ("--max-sessions", "20000")),
)
BASELINE = "sdk-json"


class ServerUnavailable(Exception):
    """The server did not come up (for ferromcp: most likely its HTTP transport is not there yet)."""


class ProtocolError(Exception):
    """A response that is not what the MCP Streamable HTTP exchange calls for."""


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


# --------------------------------------------------------------------------------------------------------------------
# HTTP/1.1 messages, built as bytes once and parsed without a general-purpose HTTP library


def _post(body: bytes, session_id: bytes | None) -> bytes:
    lines = [
        b"POST " + MCP_PATH.encode() + b" HTTP/1.1",
        b"Host: " + HOST.encode() + b":%PORT%",
        b"Accept: application/json, text/event-stream",
        b"Content-Type: application/json",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    if session_id is not None:
        lines += [b"Mcp-Session-Id: " + session_id, b"MCP-Protocol-Version: " + PROTOCOL_VERSION.encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _delete(session_id: bytes) -> bytes:
    return (
        b"DELETE " + MCP_PATH.encode() + b" HTTP/1.1\r\nHost: " + HOST.encode() + b":%PORT%\r\n"
        b"Mcp-Session-Id: " + session_id + b"\r\nMCP-Protocol-Version: " + PROTOCOL_VERSION.encode() + b"\r\n\r\n"
    )


INITIALIZE_BODY = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "ferromcp-loadtests", "version": "1"},
        },
    },
    separators=(",", ":"),
).encode()
INITIALIZED_BODY = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
ECHO_TEXT = "hello world"


def _echo_body(request_id: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"%s"}}}' % (
        request_id,
        ECHO_TEXT.encode(),
    )


class Requests:
    """Request bytes for one server port, ready to write: the hot loops do no formatting beyond a session id."""

    def __init__(self, port: int) -> None:
        self._port = str(port).encode()
        self.initialize = self._fill(_post(INITIALIZE_BODY, None))

    def _fill(self, raw: bytes) -> bytes:
        return raw.replace(b"%PORT%", self._port, 1)

    def initialized(self, session_id: bytes) -> bytes:
        return self._fill(_post(INITIALIZED_BODY, session_id))

    def echo(self, session_id: bytes, request_id: int = 2) -> bytes:
        return self._fill(_post(_echo_body(request_id), session_id))

    def delete(self, session_id: bytes) -> bytes:
        return self._fill(_delete(session_id))


@dataclasses.dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class Response:
    status: int
    head: bytes  # status line and headers, as received
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        key = b"\r\n" + name.lower() + b":"
        start = self.head.lower().find(key)
        if start < 0:
            return None
        start += len(key)
        end = self.head.find(b"\r\n", start)
        return self.head[start : end if end >= 0 else len(self.head)].strip()


def parse_response(buf: bytearray) -> tuple[Response, int] | None:
    """One complete response from the front of `buf` and the bytes it took, or None while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end])
    lower = head.lower()
    status = int(head[9:12])
    start = end + 4
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        j = lower.find(b"\r\n", i + 2)
        total = start + int(head[i + 17 : j if j >= 0 else end])
        if len(buf) < total:
            return None
        return Response(status, head, bytes(buf[start:total])), total
    if b"\r\ntransfer-encoding: chunked" in lower:
        return _parse_chunked(buf, status, head, start)
    if status in (204, 304) or 100 <= status < 200:
        return Response(status, head, b""), start
    raise ProtocolError(f"response with neither Content-Length nor chunked encoding: {head[:200]!r}")


def _parse_chunked(buf: bytearray, status: int, head: bytes, pos: int) -> tuple[Response, int] | None:
    chunks: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            if buf[pos : pos + 2] == b"\r\n":
                return Response(status, head, b"".join(chunks)), pos + 2
            trailer_end = buf.find(b"\r\n\r\n", pos)
            if trailer_end < 0:
                return None
            return Response(status, head, b"".join(chunks)), trailer_end + 4
        if len(buf) < pos + size + 2:
            return None
        chunks.append(bytes(buf[pos : pos + size]))
        pos += size + 2


def jsonrpc_message(response: Response) -> dict[str, Any]:
    """The JSON-RPC response a POST carried, whether as application/json or as an SSE event's data."""
    content_type = (response.header(b"content-type") or b"").lower()
    if content_type.startswith(b"text/event-stream"):
        for event in response.body.replace(b"\r\n", b"\n").split(b"\n\n"):
            data = b"\n".join(line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))
            if not data:
                continue  # priming events and comments carry no message
            message = json.loads(data)
            if isinstance(message, dict) and "id" in message and ("result" in message or "error" in message):
                return message
        raise ProtocolError(f"no JSON-RPC response in the event stream: {response.body[:200]!r}")
    message = json.loads(response.body)
    if not isinstance(message, dict):
        raise ProtocolError(f"not a JSON-RPC message: {response.body[:200]!r}")
    return message


def expect_result(response: Response, what: str) -> dict[str, Any]:
    if response.status != 200:
        raise ProtocolError(f"{what}: HTTP {response.status}: {response.body[:200]!r}")
    message = jsonrpc_message(response)
    if "error" in message or not isinstance(message.get("result"), dict):
        raise ProtocolError(f"{what}: {message}")
    return message["result"]


def quick_ok(response: Response) -> bool:
    """Whether a tools/call answer is a JSON-RPC result, by substring: the hot loops cannot afford a decode each."""
    return response.status == 200 and b'"result"' in response.body and b'"error"' not in response.body


def check_echo(response: Response) -> None:
    result = expect_result(response, "tools/call echo")
    texts = [c.get("text") for c in result.get("content", []) if isinstance(c, dict)]
    if result.get("isError") or texts != [ECHO_TEXT]:
        raise ProtocolError(f"tools/call echo: unexpected result {result}")


def check_session_opened(response: Response) -> bytes:
    expect_result(response, "initialize")
    session_id = response.header(b"mcp-session-id")
    if not session_id:
        raise ProtocolError("initialize: no Mcp-Session-Id header")
    return session_id


def check_accepted(response: Response) -> None:
    if response.status != 202:
        raise ProtocolError(
            f"notifications/initialized: HTTP {response.status} (202 expected): {response.body[:200]!r}"
        )


def check_deleted(response: Response) -> None:
    if response.status not in (200, 202, 204):
        raise ProtocolError(f"DELETE: HTTP {response.status}: {response.body[:200]!r}")


# --------------------------------------------------------------------------------------------------------------------
# Clients: a blocking one for the sequential workload, an asyncio protocol for the concurrent ones


class SyncConnection:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int, timeout_s: float = 10.0) -> None:
        self._sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()

    def request(self, raw: bytes) -> Response:
        self._sock.sendall(raw)
        while True:
            parsed = parse_response(self._buf) if self._buf else None
            if parsed is not None:
                response, used = parsed
                del self._buf[:used]
                return response
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buf += chunk

    def close(self) -> None:
        self._sock.close()


class AsyncConnection(asyncio.Protocol):
    """One keep-alive connection; requests may be pipelined, responses come back in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._waiting: collections.deque[asyncio.Future[Response]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._lost: Exception | None = None

    @classmethod
    async def open(cls, port: int) -> AsyncConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(cls, HOST, port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._waiting:
            try:
                parsed = parse_response(self._buf)
            except Exception as exc:
                self._fail(exc)
                return
            if parsed is None:
                return
            response, used = parsed
            del self._buf[:used]
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("server closed the connection"))

    def _fail(self, exc: Exception) -> None:
        self._lost = exc
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(exc)
        if self._transport is not None:
            self._transport.close()

    def send(self, raw: bytes) -> asyncio.Future[Response]:
        return self.send_batch(raw, 1)[0]

    def send_batch(self, raw: bytes, count: int) -> list[asyncio.Future[Response]]:
        """Writes `raw`, which holds `count` requests, at once; one future per response, in order."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Response]] = [loop.create_future() for _ in range(count)]
        if self._lost is not None or self._transport is None:
            for future in futures:
                future.set_exception(self._lost or ConnectionError("not connected"))
            return futures
        self._waiting.extend(futures)
        self._transport.write(raw)
        return futures

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_session_async(conn: AsyncConnection, requests: Requests) -> bytes:
    session_id = check_session_opened(await conn.send(requests.initialize))
    check_accepted(await conn.send(requests.initialized(session_id)))
    return session_id


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # the stdlib loop works, at several times the generator's cost per request
        return asyncio.run(coro)
    return uvloop.run(coro)


async def bounded(awaitable: Awaitable[T], budget_s: float) -> T:
    """The whole workload under one watchdog: cheaper than a timeout per request, and just as bounded."""
    return await asyncio.wait_for(awaitable, budget_s + WATCHDOG_GRACE_S)


# --------------------------------------------------------------------------------------------------------------------
# Processes: start, wait for, measure and stop a server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
    return pids


def rss_bytes(pid: int) -> int:
    """VmRSS of the server and any processes it started."""
    total = 0
    for member in _process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server (all its threads) and any processes it started."""
    total = 0
    for member in _process_tree(pid):
        with contextlib.suppress(OSError), open(f"/proc/{member}/stat") as f:
            # The command name may hold spaces; the fields after its closing parenthesis are fixed.
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def machine_cpu_ticks() -> tuple[int, int, int]:
    """(busy, interrupt, total) clock ticks of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    # guest time is already inside user time; counting it again would exceed 100 %.
    total = sum(fields[:8])
    return total - idle, fields[5] + fields[6], total


def wait_until_quiet(max_wait_s: float, threshold: float = 0.25) -> float:
    """Waits (bounded) for other work on the machine to die down; returns the last busy share seen.

    The generator and server need the machine to themselves: a compile or test run elsewhere would be measured
    as the servers' slowness.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        busy0, _, total0 = machine_cpu_ticks()
        time.sleep(0.5)
        busy1, _, total1 = machine_cpu_ticks()
        share = (busy1 - busy0) / max(total1 - total0, 1)
        if share < threshold or time.monotonic() > deadline:
            return share


@dataclasses.dataclass
class CpuMeter:
    """CPU used during one workload: server and generator as fractions of one core, the machine as a fraction of all.

    The machine figure is there because the per-process ones miss the kernel's loopback networking (softirq time
    is mostly charged to no process), which on a small machine is a large share of the load.
    """

    server_pid: int
    external_generator: bool = False  # True: the generator is a child process (wrk), False: this process
    server_share: float = 0.0
    generator_share: float = 0.0
    machine_busy: float = 0.0
    other_share: float = 0.0

    def _generator_seconds(self) -> float:
        who = resource.RUSAGE_CHILDREN if self.external_generator else resource.RUSAGE_SELF
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        wall0, server0, gen0 = time.perf_counter(), cpu_seconds(self.server_pid), self._generator_seconds()
        busy0, irq0, total0 = machine_cpu_ticks()
        try:
            yield
        finally:
            wall = max(time.perf_counter() - wall0, 1e-9)
            self.server_share = (cpu_seconds(self.server_pid) - server0) / wall
            self.generator_share = (self._generator_seconds() - gen0) / wall
            busy1, irq1, total1 = machine_cpu_ticks()
            ticks = max(total1 - total0, 1)
            cores = os.cpu_count() or 1
            self.machine_busy = (busy1 - busy0) / ticks
            # Whatever is busy besides the two processes and interrupt handling: other work sharing the machine.
            process_cores = (busy1 - busy0 - (irq1 - irq0)) / ticks * cores
            self.other_share = max(0.0, process_cores - self.server_share - self.generator_share)

    def as_dict(self) -> dict[str, float]:
        return {
            "server_cpu": self.server_share,
            "generator_cpu": self.generator_share,
            "machine_busy": self.machine_busy,
            "other_cpu": self.other_share,
        }


@dataclasses.dataclass
class ServerProcess:
    spec: ServerSpec
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _probe(port: int) -> None:
    """One full session on a fresh connection; raises until the server answers it properly."""
    requests = Requests(port)
    conn = SyncConnection(port, timeout_s=5.0)
    try:
        session_id = check_session_opened(conn.request(requests.initialize))
        check_accepted(conn.request(requests.initialized(session_id)))
        check_echo(conn.request(requests.echo(session_id)))
        # Closed, so that the probe leaves no session behind to count in the memory workload.
        check_deleted(conn.request(requests.delete(session_id)))
    finally:
        conn.close()


@contextlib.contextmanager
def running_server(spec: ServerSpec, log_dir: Path, extra_args: Sequence[str] = ()) -> Iterator[ServerProcess]:
    port = free_port()
    log_path = log_dir / f"{spec.key}-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(spec.script), str(port), *spec.args, *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the terminal reaches the driver, which then stops the server itself
        )
    server = ServerProcess(spec, port, process, log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error: Exception | None = None
        while True:
            if process.poll() is not None:
                raise ServerUnavailable(f"exited with status {process.returncode}:\n{server.log_tail()}")
            try:
                _probe(port)
                break
            except (OSError, ProtocolError, ValueError) as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise ServerUnavailable(f"no proper answer within {READY_TIMEOUT_S:.0f} s: {last_error}")
            time.sleep(0.1)
        yield server
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()


# --------------------------------------------------------------------------------------------------------------------
# Workloads


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    # Nearest rank: the smallest value with at least p % of the values at or below it.
    rank = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


async def _open_sessions(port: int, count: int) -> tuple[list[AsyncConnection], list[bytes]]:
    requests = Requests(port)
    conns = [await AsyncConnection.open(port) for _ in range(count)]
    ids = [await open_session_async(conn, requests) for conn in conns]
    return conns, ids


# (a) ----------------------------------------------------------------------------------------------------------------


def ceiling_wrk(server: ServerProcess, settings: Settings, wrk: str, work_dir: Path) -> dict[str, Any]:
    async def make() -> list[bytes]:
        conns, ids = await _open_sessions(server.port, settings.connections)
        for conn in conns:
            conn.close()
        return ids

    ids = run_async(bounded(make(), 30))
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
        env = {**os.environ, "MCP_WRK_CHECK": "1" if check else "0"}
        meter = CpuMeter(server.pid, external_generator=True)
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
    after = run_async(bounded(_calls_still_work(server.port, ids), 30))
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
        **meter.as_dict(),
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


def ceiling_python(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    async def connection_loop(conn: AsyncConnection, sid: bytes, index: int, until: float, out: dict[str, Any]) -> None:
        requests = Requests(server.port)
        # A batch of distinct ids: the SDK routes a response by request id within a session.
        batch = [requests.echo(sid, index * 1_000_000 + k) for k in range(settings.pipeline)]
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
        conns, ids = await _open_sessions(server.port, settings.connections)
        warm_until = time.perf_counter() + settings.warmup_s
        scratch: dict[str, Any] = {"latencies": [], "calls": 0, "errors": 0}
        await asyncio.gather(
            *(connection_loop(c, s, i, warm_until, scratch) for i, (c, s) in enumerate(zip(conns, ids, strict=True)))
        )
        out: dict[str, Any] = {"latencies": [], "calls": 0, "errors": 0}
        meter = CpuMeter(server.pid)
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
            "sessions": len(ids),
            **meter.as_dict(),
        }

    return run_async(bounded(run(), settings.duration_s + settings.warmup_s + 30))


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
        meter = CpuMeter(server.pid)
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
    return {
        "calls": len(latencies),
        "errors": errors,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "calls_per_s": len(latencies) / sum(latencies) if latencies else 0.0,
        **meter.as_dict(),
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

        meter = CpuMeter(server.pid)
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
        meter = CpuMeter(server.pid)
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
            **meter.as_dict(),
        }

    return run_async(bounded(run(), settings.per_call_duration_s + settings.warmup_s))


# --------------------------------------------------------------------------------------------------------------------
# One server, all workloads


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


def bench_server(spec: ServerSpec, settings: Settings, wrk: str | None, work_dir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"label": spec.label}
    print(f"  {spec.label}", file=sys.stderr)
    try:
        with running_server(spec, work_dir) as server:
            # Sequential first, on a server nothing else has loaded yet.
            _attempt(results, "sequential", lambda: sequential(server, settings), settings.quiet_wait_s)
            if wrk:
                _attempt(
                    results, "ceiling", lambda: ceiling_wrk(server, settings, wrk, work_dir), settings.quiet_wait_s
                )
            else:
                _attempt(results, "ceiling", lambda: ceiling_python(server, settings), settings.quiet_wait_s)
            _attempt(results, "per_call", lambda: per_call_sessions(server, settings), settings.quiet_wait_s)
            if server.process.poll() is not None:
                results["crashed"] = f"server exited with status {server.process.returncode}:\n{server.log_tail()}"
        # A fresh process, so the baseline holds none of the sessions and buffers the other workloads left.
        with running_server(spec, work_dir, spec.memory_args) as server:
            _attempt(results, "memory", lambda: idle_sessions_memory(server, settings), settings.quiet_wait_s)
    except ServerUnavailable as exc:
        results["unavailable"] = str(exc)
    return results


# --------------------------------------------------------------------------------------------------------------------
# Report


def _fmt(value: float, unit: str = "") -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return f"{text} {unit}".rstrip()


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
)
CPU_ROWS = (
    ("(a) ceiling", "ceiling"),
    ("(b) sequential", "sequential"),
    ("(c) memory", "memory"),
    ("(d) per-call", "per_call"),
)


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
    return "n/a" if value is None else _fmt(value, unit)


def _ratio(ferro: float | None, base: float | None, higher_is_better: bool | None) -> str:
    if higher_is_better is None or ferro is None or base is None or ferro <= 0 or base <= 0:
        return ""
    if ferro != ferro or base != base:
        return ""
    ratio = ferro / base if higher_is_better else base / ferro
    return f"{ratio:.1f}x {'higher' if higher_is_better else 'lower'}" if ratio >= 1 else f"{1 / ratio:.2f}x worse"


def report(results: dict[str, dict[str, Any]], settings: Settings) -> str:
    keys = [spec.key for spec in SERVERS]
    out = ["| metric | ferromcp | SDK (JSON) | SDK (SSE) | ratio vs SDK JSON |", "|---|---:|---:|---:|---:|"]
    for row in ROWS:
        cells = [_cell(results[k], row.workload, row.field, row.unit) if k in results else "—" for k in keys]
        ferro = _value(results.get("ferromcp", {}), row.workload, row.field)
        base = _value(results.get(BASELINE, {}), row.workload, row.field)
        label = row.label.format(conns=settings.connections)
        out.append(f"| {label} | {' | '.join(cells)} | {_ratio(ferro, base, row.higher_is_better)} |")

    out += [
        "",
        "CPU during each workload: server / generator / other processes, in % of one core; in brackets the "
        f"machine's busy share of all {os.cpu_count()} cores, which also counts the kernel's loopback networking:",
        "",
    ]
    out += ["| workload | ferromcp | SDK (JSON) | SDK (SSE) |", "|---|---:|---:|---:|"]
    busy: list[str] = []
    saturated: list[str] = []
    noisy: list[str] = []
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
        out.append(f"| {label} | {' | '.join(cells)} |")

    notes: list[str] = []
    for key in keys:
        result = results.get(key)
        if result is None:
            continue
        if "unavailable" in result:
            notes.append(f"- {result['label']}: unavailable: {result['unavailable'].splitlines()[0]}")
        if "crashed" in result:
            notes.append(f"- {result['label']}: {result['crashed']}")
        for workload in ("ceiling", "sequential", "memory", "per_call"):
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


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    for dist in ("ferromcp", "mcp", "uvicorn", "uvloop"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[dist] = importlib.metadata.version(dist)
    return versions


# --------------------------------------------------------------------------------------------------------------------
# Entry point


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of (a) and (d) per server (default 10)")
    parser.add_argument("--quick", action="store_true", help="short everything: a smoke run, not a measurement")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="ferromcp, sdk-json or sdk-sse; repeat or comma-separate for several (default: all three)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--no-wrk", action="store_true", help="use the Python generator for (a) even if wrk exists")
    parser.add_argument("--connections", type=int, default=64, help="(a) sessions and connections (default 64)")
    parser.add_argument("--pipeline", type=int, default=8, help="(a) depth of the Python generator (default 8)")
    parser.add_argument("--memory-sessions", type=int, help="(c) sessions to open (default 10,000; 1,000 with --quick)")
    parser.add_argument("--memory-budget", type=float, help="(c) seconds allowed (default 60; 10 with --quick)")
    args = parser.parse_args(argv)
    known = {spec.key for spec in SERVERS}
    args.only = [key.strip() for item in args.only for key in item.split(",") if key.strip()]
    unknown = set(args.only) - known
    if unknown:
        parser.error(f"unknown server(s) {sorted(unknown)}; choose from {sorted(known)}")
    if args.duration <= 0 or args.connections < 1 or args.pipeline < 1:
        parser.error("--duration, --connections and --pipeline must be positive")
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
    with tempfile.TemporaryDirectory(prefix="ferromcp-http-bench-") as tmp:
        work_dir = Path(tmp)
        for spec in specs:
            results[spec.key] = bench_server(spec, settings, wrk, work_dir)
    text = report(results, settings)
    print(text)
    if args.json:
        payload = {"settings": dataclasses.asdict(settings), "versions": _versions(), "results": results}
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
