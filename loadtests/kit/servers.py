"""The HTTP servers under test: which there are, and starting one on a free port, waiting until it answers a whole
session properly, and stopping it."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from .connections import SyncConnection
from .http_wire import HOST, ProtocolError, Requests, check_accepted, check_deleted, check_echo, check_session_opened

SERVERS_DIR = Path(__file__).resolve().parent.parent / "servers"
READY_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 5.0


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


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
