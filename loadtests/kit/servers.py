"""The HTTP servers under test: which there are, and starting one on a free port, waiting until it (every worker of
it) answers a whole session properly, and stopping it."""

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
from .procs import CpuMeter

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
    # Worker processes behind the port (ferromcp's --workers); each answer names its worker (Ferromcp-Worker).
    workers: int = 1
    # Started with --redis-url of the run's redis-server: sessions and streams shared through Redis.
    redis: bool = False
    # Whether (c), the idle-session memory, is run, and (f), the SSE resumption (ferromcp's tool `resumable`).
    memory: bool = True
    resume: bool = False


_FERRO = SERVERS_DIR / "ferro_http.py"
SERVERS = (
    # (c) opens 10,000 sessions, exactly the servers' default cap: the headroom keeps a session that has not quite
    # ended yet (the readiness probe's) from turning the last ones into 503s.
    ServerSpec("ferromcp", "ferromcp", _FERRO, (), 10_000, ("--max-sessions", "20000"), resume=True),
    # The scale-out variants. (c) is not run on them: the idle sessions' records live in redis-server, which the
    # server's RSS does not count, and with 2 workers the in-process part is split over two processes.
    ServerSpec(
        "ferromcp-redis",
        "ferromcp, Redis",
        _FERRO,
        (),
        10_000,
        redis=True,
        memory=False,
        resume=True,
    ),
    ServerSpec(
        "ferromcp-2w-redis",
        "ferromcp, 2 workers + Redis",
        _FERRO,
        ("--workers", "2"),
        10_000,
        workers=2,
        redis=True,
        memory=False,
        resume=True,
    ),
    ServerSpec(
        "sdk-json", "SDK (JSON)", SERVERS_DIR / "sdk_http.py", ("--json-response",), 1000, ("--max-sessions", "20000")
    ),
    ServerSpec("sdk-sse", "SDK (SSE)", SERVERS_DIR / "sdk_http.py", (), 1000, ("--max-sessions", "20000")),
)
BASELINE = "sdk-json"
# The servers of the side-by-side table with the SDK, and the ferromcp variants of the scale-out table, each a step
# from the one before (sessions in memory -> in Redis -> 2 workers sharing Redis).
BASE_KEYS = ("ferromcp", "sdk-json", "sdk-sse")
SCALE_OUT_KEYS = ("ferromcp", "ferromcp-redis", "ferromcp-2w-redis")


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
    store_pid: int | None = None  # the redis-server it shares state through, if any

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_meter(self, *, external_generator: bool = False) -> CpuMeter:
        """A meter of this server's process tree (supervisor and workers) and of its store."""
        return CpuMeter(self.pid, external_generator=external_generator, store_pid=self.store_pid)

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def _probe(port: int) -> bytes | None:
    """One full session on a fresh connection; raises until the server answers it properly. Returns the worker
    that answered (its Ferromcp-Worker header), None from a single process."""
    requests = Requests(port)
    conn = SyncConnection(port, timeout_s=5.0)
    try:
        session_id = check_session_opened(conn.request(requests.initialize))
        check_accepted(conn.request(requests.initialized(session_id)))
        answer = conn.request(requests.echo(session_id))
        check_echo(answer)
        # Closed, so that the probe leaves no session behind to count in the memory workload.
        check_deleted(conn.request(requests.delete(session_id)))
    finally:
        conn.close()
    return answer.header(b"ferromcp-worker")


@contextlib.contextmanager
def running_server(
    spec: ServerSpec,
    log_dir: Path,
    extra_args: Sequence[str] = (),
    *,
    redis_url: str | None = None,
    store_pid: int | None = None,
) -> Iterator[ServerProcess]:
    """Starts `spec` on a free port; yields once every worker has answered a whole session. A variant with
    `redis` needs `redis_url` (and `store_pid`, the redis-server's, to meter its CPU)."""
    if spec.redis and redis_url is None:
        raise ServerUnavailable("needs a redis-server, and none is running")
    port = free_port()
    log_path = log_dir / f"{spec.key}-{port}.log"
    store_args = ("--redis-url", redis_url) if spec.redis and redis_url else ()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(spec.script), str(port), *spec.args, *store_args, *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C at the terminal reaches the driver, which then stops the server itself
        )
    server = ServerProcess(spec, port, process, log_path, store_pid if spec.redis else None)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error: Exception | None = None
        # Every worker, not just the first one up: until the last has bound the port, the kernel gives the
        # others all the connections.
        answered: set[bytes] = set()
        while True:
            if process.poll() is not None:
                raise ServerUnavailable(f"exited with status {process.returncode}:\n{server.log_tail()}")
            try:
                worker = _probe(port)
                if spec.workers == 1:
                    break
                if worker is not None:
                    answered.add(worker)
                if len(answered) >= spec.workers:
                    break
                last_error = None  # up, but not every worker yet: a fresh connection may land on another
            except (OSError, ProtocolError, ValueError) as exc:
                last_error = exc
            if time.monotonic() > deadline:
                seen = f"; workers that answered: {sorted(answered)}" if spec.workers > 1 else ""
                raise ServerUnavailable(f"no proper answer within {READY_TIMEOUT_S:.0f} s: {last_error}{seen}")
            time.sleep(0.1 if last_error is not None else 0.01)
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
