"""The official MCP Python SDK client (`mcp.client.client.Client`) connected to the test server, over stdio
or Streamable HTTP, in a chosen mode ("2026-07-28", "auto" (the SDK's default: `server/discover` first) or
"legacy"). On a clean exit every message the server sent is validated against the schema of its era."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
from mcp import StdioServerParameters
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.paths import EVERYTHING, ROOT, TESTS
from tests.support.recording import RecordingTransport
from tests.support.schema import check_transcript
from tests.support.stdio import read_transcript

MODERN = "2026-07-28"
RESULT_TYPES = ("complete", "input_required")


class Wire:
    """What a client exchanged with the server: the messages the server sent, once the client has closed."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.received: list[Any] = []
        # Over HTTP: every exchange as the recording transport saw it (method, headers, request and response).
        self.exchanges: list[dict[str, Any]] = []

    def methods(self) -> list[str]:
        return [m["method"] for m in self.sent if isinstance(m, dict) and "method" in m]

    def results(self) -> list[dict[str, Any]]:
        return [m["result"] for m in self.received if isinstance(m, dict) and "result" in m]


def _check_modern(wire: Wire) -> None:
    assert not any(m == "initialize" for m in wire.methods()), "a 2026-07-28 client sent initialize"
    for result in wire.results():
        assert result.get("resultType") in RESULT_TYPES, result


@contextlib.asynccontextmanager
async def stdio_client(
    tmp_path: Path, *, mode: str = MODERN, script: Path = EVERYTHING, env: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[tuple[Client, Wire]]:
    """The client over stdio (through a recording proxy) to `script`; `mode` "auto" must end up in the stateless
    era."""
    log = tmp_path / "wire.log"
    tee = TESTS / "support" / "tee_proxy.py"
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(tee), str(log), "--", sys.executable, str(script)],
        cwd=str(ROOT),
        env={**os.environ, **env} if env else None,
    )
    wire = Wire()
    async with Client(params, mode=mode, **options) as connected:  # type: ignore[arg-type]
        yield connected, wire
    lines = read_transcript(log)
    wire.sent = [json.loads(line) for direction, line in lines if direction == "in"]
    wire.received = check_transcript(lines, None if mode == "legacy" else MODERN)
    if mode != "legacy":
        _check_modern(wire)


@contextlib.asynccontextmanager
async def http_client(
    url: str, *, mode: str = MODERN, headers: dict[str, str] | None = None, **options: Any
) -> AsyncIterator[tuple[Client, Wire]]:
    """The client over Streamable HTTP (through a recording transport), sending `headers` with every request
    (an `Authorization` bearer token, for instance)."""
    recorder = RecordingTransport()
    http = httpx2.AsyncClient(transport=recorder, headers=headers, timeout=httpx2.Timeout(30, read=120))
    wire = Wire()
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode, **options) as connected:  # type: ignore[arg-type]
        yield connected, wire
    wire.received = recorder.check_all("2025-11-25" if mode == "legacy" else MODERN)
    wire.exchanges = recorder.exchanges
    wire.sent = [json.loads(ex["request"]) for ex in recorder.exchanges if ex["method"] == "POST" and ex["request"]]
    if mode != "legacy":
        _check_modern(wire)
        assert all("mcp-session-id" not in ex["headers"] for ex in recorder.exchanges), "a session id was minted"
