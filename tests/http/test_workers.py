"""`run("http", workers=N)`: N worker processes on one port behind a supervisor. Requests land on every worker
(the `Ferromcp-Worker` header says which), an input-required round trip whose retry lands on another worker
still opens (the workers share the supervisor's request-state keys), a killed worker is replaced while the
others keep answering, SIGTERM stops them all cleanly, and workers that cannot start make the supervisor give up
with a non-zero exit instead of restarting forever."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from tests.support.procs import HttpServerProcess, free_port
from tests.support.stateless import CAPABILITIES, META_VERSION, MODERN, call, post

EVERYTHING = Path(__file__).resolve().parents[1] / "servers" / "everything.py"
ASKING = {META_VERSION: MODERN, CAPABILITIES: {"elicitation": {}}}
ANSWER = {"elicitation-1": {"action": "accept", "content": {"name": "Ada", "email": "a@example.com"}}}


def children(pid: int) -> list[int]:
    """The supervisor's worker processes."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def echo(url: str, request_id: int) -> httpx2.Response:
    """One stateless call on a fresh connection (so the kernel picks a worker for it)."""
    resp = post(url, call("echo", {"text": "hi"}, request_id), **{"Mcp-Name": "echo"})
    assert resp.status_code == 200 and resp.json()["result"]["content"][0]["text"] == "hi", resp.text
    return resp


def workers_seen(url: str, calls: int = 60) -> set[str]:
    return {echo(url, i).headers["ferromcp-worker"] for i in range(calls)}


def test_requests_spread_over_the_workers_and_round_trips_cross_them() -> None:
    server = HttpServerProcess(EVERYTHING, "--workers", "2")
    try:
        deadline = time.monotonic() + 10
        while (seen := workers_seen(server.url)) != {"0", "1"}:
            assert time.monotonic() < deadline, f"only workers {seen} answered"
        # Ask on one worker, answer on the other: the sealed state opens there too.
        crossed = 0
        for i in range(40):
            first = post(
                server.url, call("ask_user", {"question": "Who?"}, i, _meta=ASKING), **{"Mcp-Name": "ask_user"}
            )
            state = first.json()["result"]["requestState"]
            retry = call("ask_user", {"question": "Who?"}, i, _meta=ASKING, inputResponses=ANSWER, requestState=state)
            done = post(server.url, retry, **{"Mcp-Name": "ask_user"})
            assert done.json()["result"]["structuredContent"]["name"] == "Ada", done.text
            crossed += first.headers["ferromcp-worker"] != done.headers["ferromcp-worker"]
            if crossed >= 3:
                break
        assert crossed >= 3, "no retry landed on the other worker"
    finally:
        assert server.stop() is not None
    assert server.proc.returncode == 0


def test_a_killed_worker_is_replaced_and_sigterm_stops_them_all() -> None:
    server = HttpServerProcess(EVERYTHING, "--workers", "2")
    try:
        workers_seen(server.url, 20)
        before = children(server.proc.pid)
        assert len(before) == 2, before
        os.kill(before[0], signal.SIGKILL)
        # The other worker keeps answering while the supervisor replaces the dead one.
        deadline = time.monotonic() + 15
        while True:
            echo(server.url, 1)
            now = children(server.proc.pid)
            if len(now) == 2 and before[0] not in now:
                break
            assert time.monotonic() < deadline, f"the worker was not replaced: {now}"
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        while workers_seen(server.url, 20) != {"0", "1"}:
            assert time.monotonic() < deadline, "the replacement never answered"
        workers = children(server.proc.pid)
    finally:
        stderr = server.stop()
    assert server.proc.returncode == 0, stderr.decode(errors="replace")
    assert b"worker 0 exited" in stderr
    for pid in workers:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text().lower(), f"worker {pid} outlived the stop"


def test_workers_that_cannot_start_make_the_supervisor_give_up() -> None:
    port = free_port()
    with socket.socket() as taken:  # bound without SO_REUSEPORT: no worker can share it
        taken.bind(("127.0.0.1", port))
        taken.listen()
        proc = subprocess.run(
            [sys.executable, str(EVERYTHING), "http", str(port), "--workers", "2"],
            capture_output=True,
            timeout=60,
        )
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")
    assert b"workers keep crashing" in proc.stderr


def test_workers_need_a_real_port() -> None:
    from ferromcp import Server

    with pytest.raises(ValueError, match="give a port number"):
        Server("x").run("http", port=0, workers=2)
    with pytest.raises(ValueError, match="at least 1"):
        Server("x").run("http", port=8000, workers=0)
