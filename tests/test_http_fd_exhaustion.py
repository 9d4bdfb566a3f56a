"""Out of file descriptors, the HTTP accept loop backs off (no busy loop), says so, and recovers."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import textwrap
import time

import httpx2

FD_LIMIT = 96
SERVER = textwrap.dedent(
    """
    import sys
    from ferromcp import Server

    server = Server("fds")

    @server.tool
    def echo(text: str) -> str:
        return text

    server.run("http", port=int(sys.argv[1]), io_threads=1)
    """
)
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_serving(url: str, timeout: float, failure: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx2.TransportError):
            if httpx2.post(url, json=INITIALIZE, headers=HEADERS, timeout=5).status_code == 200:
                return
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


def test_accept_backs_off_when_out_of_fds_and_recovers() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], stderr=subprocess.PIPE, preexec_fn=limit_fds)
    clients: list[socket.socket] = []
    try:
        wait_until_serving(url, 20, "server did not start")

        # More connections than the server has descriptors: the kernel completes them, accept() gets EMFILE.
        for _ in range(FD_LIMIT * 2):
            clients.append(socket.create_connection(("127.0.0.1", port)))
        time.sleep(0.5)
        before = cpu_seconds(proc.pid)
        time.sleep(2.0)
        used = cpu_seconds(proc.pid) - before
        # A spinning accept loop burns a whole core (2 s); backing off costs next to nothing.
        assert used < 0.3, f"server used {used:.2f} s of CPU in 2 s while out of descriptors"

        for c in clients:
            c.close()
        clients.clear()
        wait_until_serving(url, 10, "server did not recover once descriptors were free")
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    log = err.decode()
    assert "cannot accept connections (out of file descriptors or memory); backing off" in log, log
    assert "accepting connections again failed_accepts=" in log, log
