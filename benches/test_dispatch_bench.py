"""Micro benchmarks of the tools/call path:

    python -m pytest benches/test_dispatch_bench.py --benchmark-enable -p no:cacheprovider

In-process, ferromcp serves `Server.serve_stdio` on two `os.pipe()` pairs from a background thread with its own
uvloop loop, so the numbers are the runtime's own, without process start-up or a second interpreter. The
subprocess variants run ferromcp and the official SDK the same way (a child process over pipes) for a fair ratio.

The project's pytest config passes `--benchmark-disable`; then each benchmarked function runs once, which keeps
this module a quick smoke test of the same code paths.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop
from ferromcp import Server
from pytest_benchmark.fixture import BenchmarkFixture

SERVERS_DIR = Path(__file__).resolve().parent / "servers"
BURST = 100
SHUTDOWN_TIMEOUT_S = 10.0

INITIALIZE = orjson.dumps(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
)
INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'
ECHO_PREFIX = b'{"jsonrpc":"2.0","id":'
ECHO_SUFFIX = b',"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello world"}}}\n'


class PipeClient:
    """Newline-delimited JSON-RPC over a write fd and a read fd, with blocking I/O and no event loop.

    Request ids only ever increase: MCP forbids reusing one within a session, even after its response.
    """

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self._wfd = write_fd
        self._rfd = read_fd
        self._buffer = b""
        self._next_id = 1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._wfd, view) :]

    def _read_lines(self, count: int) -> list[bytes]:
        buffer = self._buffer
        while buffer.count(b"\n") < count:
            chunk = os.read(self._rfd, 1 << 16)
            if not chunk:
                raise EOFError("the server closed its output")
            buffer += chunk
        lines = buffer.split(b"\n", count)
        self._buffer = lines.pop()
        return lines

    def handshake(self) -> dict[str, Any]:
        self._write(INITIALIZE + b"\n")
        reply = orjson.loads(self._read_lines(1)[0])
        assert reply["id"] == 0, reply
        self._write(INITIALIZED + b"\n")
        return reply["result"]

    def echo_requests(self, count: int) -> bytes:
        first = self._next_id
        self._next_id += count
        return b"".join(b"%s%d%s" % (ECHO_PREFIX, rid, ECHO_SUFFIX) for rid in range(first, first + count))

    def roundtrip(self) -> bytes:
        # Formatting the one request inside the timed call costs ~0.2 µs, noise next to any round trip.
        self._write(self.echo_requests(1))
        return self._read_lines(1)[0]

    def burst(self, requests: bytes) -> list[bytes]:
        self._write(requests)
        return self._read_lines(requests.count(b"\n"))


def check_echo(lines: list[bytes]) -> None:
    messages = [orjson.loads(line) for line in lines]
    assert len({m["id"] for m in messages}) == len(lines)
    for message in messages:
        result = message.get("result")
        assert result is not None, message
        assert not result.get("isError"), message
        assert result["content"][0]["text"] == "hello world", message


def _serve_in_thread(server: Server, input_fd: int, output_fd: int) -> None:
    try:
        uvloop.run(server.serve_stdio(input_fd, output_fd))
    finally:
        # serve_stdio holds its own duplicates by now; closing ours means that if it ever stops early the
        # client's blocking read sees EOF instead of hanging.
        os.close(input_fd)
        os.close(output_fd)


@pytest.fixture(scope="module")
def ferro_inprocess() -> Iterator[PipeClient]:
    server: Server = runpy.run_path(str(SERVERS_DIR / "ferro_server.py"))["server"]
    request_r, request_w = os.pipe()
    response_r, response_w = os.pipe()
    thread = threading.Thread(
        target=_serve_in_thread, args=(server, request_r, response_w), name="ferromcp-bench", daemon=True
    )
    thread.start()
    try:
        client = PipeClient(request_w, response_r)
        client.handshake()
        yield client
    finally:
        os.close(request_w)  # EOF: serve_stdio returns once the calls in flight are answered
        thread.join(SHUTDOWN_TIMEOUT_S)
        os.close(response_r)
    assert not thread.is_alive(), "serve_stdio did not return after its input closed"


def _subprocess_client(script: Path) -> Iterator[PipeClient]:
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        bufsize=0,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    try:
        client = PipeClient(proc.stdin.fileno(), proc.stdout.fileno())
        client.handshake()
        yield client
    finally:
        proc.stdin.close()
        try:
            proc.wait(SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == 0, f"{script.name} exited with {proc.returncode}"


@pytest.fixture(scope="module")
def ferro_subprocess() -> Iterator[PipeClient]:
    yield from _subprocess_client(SERVERS_DIR / "ferro_server.py")


@pytest.fixture(scope="module")
def sdk_subprocess() -> Iterator[PipeClient]:
    yield from _subprocess_client(SERVERS_DIR / "sdk_server.py")


@pytest.mark.benchmark(group="roundtrip-inprocess", warmup=True, warmup_iterations=1000)
def test_roundtrip_ferromcp_inprocess(benchmark: BenchmarkFixture, ferro_inprocess: PipeClient) -> None:
    check_echo([benchmark(ferro_inprocess.roundtrip)])


@pytest.mark.benchmark(group="burst100-inprocess")
def test_burst100_ferromcp_inprocess(benchmark: BenchmarkFixture, ferro_inprocess: PipeClient) -> None:
    # Requests are built in setup, outside the timing, so the burst measures only the server and the pipes.
    def setup() -> tuple[tuple[bytes], dict[str, Any]]:
        return (ferro_inprocess.echo_requests(BURST),), {}

    lines = benchmark.pedantic(ferro_inprocess.burst, setup=setup, rounds=300, warmup_rounds=20)
    assert len(lines) == BURST
    check_echo(lines)


@pytest.mark.benchmark(group="roundtrip-subprocess", warmup=True, warmup_iterations=1000)
def test_roundtrip_ferromcp_subprocess(benchmark: BenchmarkFixture, ferro_subprocess: PipeClient) -> None:
    check_echo([benchmark(ferro_subprocess.roundtrip)])


@pytest.mark.benchmark(group="roundtrip-subprocess", warmup=True, warmup_iterations=200)
def test_roundtrip_sdk_subprocess(benchmark: BenchmarkFixture, sdk_subprocess: PipeClient) -> None:
    check_echo([benchmark(sdk_subprocess.roundtrip)])
