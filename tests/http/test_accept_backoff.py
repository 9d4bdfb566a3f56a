"""Out of file descriptors, the accept loop backs off (no busy loop), says so in the log, and recovers."""

from __future__ import annotations

import socket
import time

import httpx2

from tests.support.procs import HttpServerProcess, cpu_seconds
from tests.support.wire import LATEST, POST_HEADERS

FD_LIMIT = 128
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": LATEST, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def initialize_succeeds(url: str) -> bool:
    try:
        return httpx2.post(url, json=INITIALIZE, headers=POST_HEADERS, timeout=5).status_code == 200
    except httpx2.TransportError:
        return False


def test_accept_backs_off_when_out_of_fds_and_recovers() -> None:
    server = HttpServerProcess(fd_limit=FD_LIMIT)
    clients: list[socket.socket] = []
    try:
        assert initialize_succeeds(server.url)
        # More connections than the server has descriptors: the kernel completes them, accept() gets EMFILE.
        clients = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(FD_LIMIT + 64)]
        time.sleep(0.5)
        before = cpu_seconds(server.proc.pid)
        time.sleep(2.0)
        used = cpu_seconds(server.proc.pid) - before
        # A spinning accept loop burns a whole core (2 s here); backing off costs next to nothing.
        assert used < 0.3, f"the server used {used:.2f} s of CPU in 2 s while out of descriptors"

        for c in clients:
            c.close()
        clients = []
        deadline = time.monotonic() + 10
        while not initialize_succeeds(server.url):
            assert time.monotonic() < deadline, "the server did not recover once descriptors were free"
            time.sleep(0.1)
    finally:
        for c in clients:
            c.close()
        log = server.stop().decode()
    assert "cannot accept connections (out of file descriptors or memory); backing off" in log, log
    assert "accepting connections again failed_accepts=" in log, log
