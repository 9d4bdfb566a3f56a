"""Server subprocesses: a script serving Streamable HTTP on a free loopback port, and what /proc says about a
process (open descriptors, CPU time, resident memory)."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.paths import EVERYTHING, ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HttpServerProcess:
    """A server script serving Streamable HTTP on a free loopback port, in a subprocess."""

    def __init__(
        self, script: Path = EVERYTHING, *extra: str, fd_limit: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        """`fd_limit` caps the server's open file descriptors (RLIMIT_NOFILE); `env` adds environment variables."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "http", str(self.port), *extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=str(ROOT),
            env={**os.environ, **env} if env else None,
            preexec_fn=None if fd_limit is None else lambda: _limit_fds(fd_limit),
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=1)
            except urllib.error.HTTPError:
                break  # the server answered (with an HTTP error for a bare GET): it is up
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"HTTP server did not start: {self.stop()!r}") from None
                time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> bytes:
        """SIGTERM (graceful drain), then wait; returns stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        return err


def _limit_fds(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")
