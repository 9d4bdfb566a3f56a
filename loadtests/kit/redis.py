"""A redis-server for the scale-out variants of the HTTP benchmark: started on a free 127.0.0.1 port with no
persistence in a temporary directory, emptied between servers under test, stopped at the end."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

from .http_wire import HOST
from .servers import free_port

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class RedisUnavailable(Exception):
    """No redis-server binary, or it did not come up."""


class RedisServer:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"redis://{HOST}:{port}/0"

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self, *words: str) -> bytes:
        """One command in RESP, its raw reply (a short one: +OK, +PONG, an integer)."""
        payload = f"*{len(words)}\r\n".encode() + b"".join(
            f"${len(w.encode())}\r\n".encode() + w.encode() + b"\r\n" for w in words
        )
        with socket.create_connection((HOST, self.port), timeout=2.0) as sock:
            sock.sendall(payload)
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return reply

    def answers(self) -> bool:
        try:
            return self.command("PING").startswith(b"+PONG")
        except OSError:
            return False

    def flush(self) -> None:
        """Empties every database, so that each server under test starts from the same (empty) store."""
        reply = self.command("FLUSHALL")
        if not reply.startswith(b"+OK"):
            raise RedisUnavailable(f"FLUSHALL answered {reply!r}")


@contextlib.contextmanager
def running_redis() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable("redis-server is not installed (`make redis` installs Debian's redis-server)")
    with tempfile.TemporaryDirectory(prefix="ferromcp-bench-redis-") as tmp:
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no", "--dir", tmp]
        process = subprocess.Popen(
            argv,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the driver only, which stops it here
        )
        redis = RedisServer(process, port)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not redis.answers():
                if process.poll() is not None:
                    raise RedisUnavailable(f"redis-server exited with status {process.returncode}")
                if time.monotonic() > deadline:
                    raise RedisUnavailable(f"redis-server did not answer on port {port}")
                time.sleep(0.02)
            yield redis
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
