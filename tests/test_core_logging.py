"""The Rust core's log events reach Python's `logging` (logger `ferromcp.*`), never stdout."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap

import httpx2
import pytest
from ferromcp import Server

ACCEPT = "application/json, text/event-stream"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


async def logged(caplog: pytest.LogCaptureFixture, logger: str, prefix: str) -> logging.LogRecord:
    """The first record of `logger` starting with `prefix`; the forwarder delivers asynchronously, so wait."""
    for _ in range(300):
        for r in caplog.records:
            if r.name == logger and r.getMessage().startswith(prefix):
                return r
        await asyncio.sleep(0.01)
    raise AssertionError(f"no {logger} record {prefix!r}: {[(r.name, r.getMessage()) for r in caplog.records]}")


async def test_http_events_are_logged_under_ferromcp(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ferromcp")
    server = Server("logging")
    async with server.http_server(port=0, session_idle_timeout=0.2) as url:
        async with httpx2.AsyncClient() as client:
            resp = await client.post(url, json=INITIALIZE, headers={"Accept": ACCEPT})
            assert resp.status_code == 200
            session = resp.headers["mcp-session-id"]
        expired = await logged(caplog, "ferromcp.http.sessions", "idle session expired")
    assert expired.levelno == logging.INFO
    assert expired.getMessage() == f"idle session expired session={session} idle_ms=200"
    started = await logged(caplog, "ferromcp.http", "serving Streamable HTTP")
    assert started.getMessage().startswith("serving Streamable HTTP local_addr=127.0.0.1:")
    assert (await logged(caplog, "ferromcp.http", "HTTP server closed")).levelno == logging.INFO


async def test_events_below_the_logger_level_are_not_forwarded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ferromcp")
    server = Server("quiet")
    async with server.http_server(port=0):
        pass
    await asyncio.sleep(0.1)
    assert not [r for r in caplog.records if r.name.startswith("ferromcp.http")]


SERVER = textwrap.dedent(
    """
    from ferromcp import Server

    server = Server("small", max_message_size=300)

    @server.tool
    def echo(text: str) -> str:
        return text

    server.run()
    """
)


def test_stdio_warning_goes_to_stderr_and_never_to_stdout() -> None:
    lines = [json.dumps(INITIALIZE), "x" * 500, ""]
    proc = subprocess.run(
        [sys.executable, "-c", SERVER],
        input="\n".join(lines).encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [m.get("id") for m in out] == [1, None]
    assert out[1]["error"]["code"] == -32600
    # Delivered by the forwarder before exit, through logging's last-resort handler (stderr).
    assert "stdin message over the size limit discarded seen=" in proc.stderr.decode()
    assert "max=300" in proc.stderr.decode()
