"""Instructions per call, counted by valgrind (callgrind): ferromcp vs. the official MCP Python SDK, the same echo
tool, over stdio and Streamable HTTP, in both protocol eras.

    python benches/instructions.py            # ~5 min, Markdown table on stdout
    python benches/instructions.py --quick    # a tenth of the calls (a smoke run)
    python benches/instructions.py --json out.json

Timings on a shared 2-core machine move by 20% between runs; instruction counts do not (they repeat to within
0.1%), so this is the benchmark to compare builds and eras with. Each server runs alone under callgrind, serving
one sequential client: after a warm-up the counters are reset, N calls are made, and the count is dumped. The
count is the whole server process (Python, the event loop, the Rust core, every thread) divided by N; the client
is not counted. Legacy calls go to a session opened with `initialize`; stateless (2026-07-28) calls carry their
version and capabilities in `_meta` (and over HTTP the routing headers), on a fresh server.

Needs `valgrind` (Debian package `valgrind`; `make bench-instructions` installs it if missing).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

# Run as a script, this file's folder is on sys.path, not the repository root that loadtests.kit is found from.
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loadtests.kit.connections import SyncConnection  # noqa: E402
from loadtests.kit.http_wire import Requests, check_accepted, check_echo, check_session_opened  # noqa: E402
from loadtests.kit.protocol import INITIALIZED, compact_json, initialize_request  # noqa: E402
from loadtests.kit.report import markdown_table, package_version  # noqa: E402
from loadtests.kit.servers import free_port  # noqa: E402

STARTUP_TIMEOUT_S = 180.0
STDIO_META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}


@dataclasses.dataclass(frozen=True)
class Target:
    label: str
    transport: str  # "stdio" or "http"
    command: tuple[str, ...]
    calls: int  # per era; the SDK is ~40x slower under callgrind too


TARGETS = (
    Target("ferromcp", "stdio", ("benches/servers/ferro_server.py",), 4000),
    Target("SDK", "stdio", ("benches/servers/sdk_server.py",), 300),
    Target("ferromcp", "http", ("loadtests/servers/ferro_http.py",), 2000),
    Target("SDK (JSON)", "http", ("loadtests/servers/sdk_http.py", "--json-response"), 200),
)


class Callgrind:
    """A server process under callgrind whose counters can be dumped on demand."""

    def __init__(self, target: Target, out_dir: Path, extra: tuple[str, ...] = (), pipes: bool = False) -> None:
        self.out = out_dir / "callgrind.out"
        argv = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={self.out}",
            "--dump-instr=no",
            sys.executable,
            *target.command,
            *extra,
        ]
        stdio = subprocess.PIPE if pipes else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=stdio, stdout=stdio, stderr=subprocess.DEVNULL)

    def dump(self, tag: str) -> None:
        subprocess.run(["callgrind_control", f"--dump={tag}", str(self.proc.pid)], capture_output=True, check=True)
        time.sleep(0.5)

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for path in glob.glob(f"{self.out}.*"):
            text = Path(path).read_text(errors="replace")
            tag = re.search(r"^desc: Trigger: dump (\S+)", text, re.M)
            total = re.search(r"^summary: *(\d+)", text, re.M)
            if tag and total:
                found[tag.group(1)] = int(total.group(1))
        return found

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- stdio: newline-delimited JSON-RPC, one call at a time ------------------------------------------------------


def _stdio_call(stdin: IO[bytes], stdout: IO[bytes], message: dict[str, Any]) -> dict[str, Any]:
    stdin.write(compact_json(message) + b"\n")
    stdin.flush()
    while True:
        line = stdout.readline()
        if not line:
            raise RuntimeError("the server closed stdout")
        reply = json.loads(line)
        if reply.get("id") == message.get("id"):
            return reply


def _echo(request_id: int, stateless: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"name": "echo", "arguments": {"text": "hello world"}}
    if stateless:
        params["_meta"] = STDIO_META
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def _stdio_caller(server: Callgrind, stateless: bool) -> Callable[[int], None]:
    stdin, stdout = server.proc.stdin, server.proc.stdout
    assert stdin is not None and stdout is not None
    if not stateless:
        _stdio_call(stdin, stdout, initialize_request(0, "ferromcp-instructions"))
        stdin.write(compact_json(INITIALIZED) + b"\n")
        stdin.flush()

    def call(request_id: int) -> None:
        reply = _stdio_call(stdin, stdout, _echo(request_id, stateless))
        if reply.get("result", {}).get("content", [{}])[0].get("text") != "hello world":
            raise RuntimeError(f"unexpected answer: {reply}")

    return call


# -- HTTP: one keep-alive connection --------------------------------------------------------------------------


def _http_caller(port: int, stateless: bool) -> Callable[[int], None]:
    requests = Requests(port)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            conn = SyncConnection(port, timeout_s=60.0)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    if stateless:
        return lambda request_id: check_echo(conn.request(requests.echo_stateless(request_id)))
    session = check_session_opened(conn.request(requests.initialize))
    check_accepted(conn.request(requests.initialized(session)))
    return lambda request_id: check_echo(conn.request(requests.echo(session, request_id)))


@contextlib.contextmanager
def _serving(target: Target, stateless: bool, out_dir: Path) -> Iterator[tuple[Callgrind, Callable[[int], None]]]:
    if target.transport == "stdio":
        server = Callgrind(target, out_dir, pipes=True)
        try:
            yield server, _stdio_caller(server, stateless)
        finally:
            server.stop()
        return
    port = free_port()
    server = Callgrind(target, out_dir, (str(port),))
    try:
        yield server, _http_caller(port, stateless)
    finally:
        server.stop()


def measure(target: Target, stateless: bool, calls: int) -> float:
    """Instructions per call of `target` in one era."""
    with (
        tempfile.TemporaryDirectory(prefix="ferromcp-callgrind-") as tmp,
        _serving(target, stateless, Path(tmp)) as (server, call),
    ):
        for i in range(max(20, calls // 10)):
            call(1_000_000 + i)
        server.dump("warm")
        for i in range(calls):
            call(i + 1)
        server.dump("measured")
        counts = server.counts()
    if "measured" not in counts:
        raise RuntimeError(f"no callgrind dump for {target.label} over {target.transport}")
    return counts["measured"] / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the calls")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed (Debian: apt-get install valgrind; or make bench-instructions)")

    results: dict[tuple[str, str, str], float] = {}
    for target in TARGETS:
        calls = max(20, target.calls // 10) if args.quick else target.calls
        for era in ("legacy", "stateless"):
            per_call = measure(target, era == "stateless", calls)
            results[(target.transport, era, target.label)] = per_call
            line = f"{target.transport:5} {era:9} {target.label:10} {per_call:12,.0f} instructions/call"
            print(line, file=sys.stderr)

    rows = []
    for transport, sdk in (("stdio", "SDK"), ("http", "SDK (JSON)")):
        for era in ("legacy", "stateless"):
            ours, theirs = results[(transport, era, "ferromcp")], results[(transport, era, sdk)]
            rows.append(
                [
                    f"{transport}, {era}",
                    f"{ours:,.0f}",
                    f"{theirs:,.0f}",
                    f"{theirs / ours:.1f}x",
                ]
            )
    print(f"ferromcp {package_version('ferromcp')}, mcp {package_version('mcp')}, Python {sys.version.split()[0]}\n")
    header = ["tools/call echo", "ferromcp instr/call", "SDK instr/call", "SDK / ferromcp"]
    print("\n".join(markdown_table(header, rows)))
    if args.json:
        args.json.write_text(json.dumps({f"{t}/{e}/{s}": v for (t, e, s), v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
