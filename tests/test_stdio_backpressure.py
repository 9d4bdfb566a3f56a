"""A stdio client that stops reading its answers: the server stops reading its requests once a bounded amount of
output waits (memory stays bounded), and every answer arrives once the client reads again."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from tests.support.paths import EVERYTHING, ROOT

CALLS = 3000
TEXT = "x" * 20_000  # 60 MB of answers in all, far past the 16 MiB the server lets wait


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def message(msg: dict[str, object]) -> bytes:
    return json.dumps(msg).encode() + b"\n"


def test_a_client_that_does_not_read_holds_the_server_back() -> None:
    proc = subprocess.Popen(
        [sys.executable, str(EVERYTHING)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=str(ROOT),
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    try:
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        stdin.write(message({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}))
        stdin.write(message({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        stdin.flush()
        stdout.readline()
        before = rss_mb(proc.pid)

        def write() -> None:
            for i in range(CALLS):
                params = {"name": "echo", "arguments": {"text": TEXT}}
                stdin.write(message({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": params}))
            stdin.flush()

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        time.sleep(3)
        assert writer.is_alive(), "the server read every request although no answer was read"
        grown = rss_mb(proc.pid) - before
        assert grown < 100, f"the server grew by {grown:.0f} MB while its client did not read"
        got = {json.loads(stdout.readline())["id"] for _ in range(CALLS)}
        writer.join(30)
        assert got == set(range(1, CALLS + 1))
    finally:
        stdin.close()
        proc.wait(30)
        stdout.close()
