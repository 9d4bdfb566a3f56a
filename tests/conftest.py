"""Fixtures shared by the test modules; the helpers behind them are in tests/support/."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from mcp.client.client import Client

from tests.support.clients import Wire as ClientWire
from tests.support.clients import http_client, stdio_client
from tests.support.procs import HttpServerProcess
from tests.support.stdio import RawServer
from tests.support.wire import Wire, wire_to


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer()
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.close()


@pytest.fixture
def http_server() -> Iterator[HttpServerProcess]:
    server = HttpServerProcess()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def wire(http_server: HttpServerProcess) -> AsyncIterator[Wire]:
    """A Wire to the `http_server` subprocess; what it received is schema-checked when the test ends."""
    async with wire_to(http_server.url) as w:
        yield w


Connect = Callable[..., contextlib.AbstractAsyncContextManager[tuple[Client, ClientWire]]]


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connect]:
    """Connects the official client (`Client`, stateless mode unless `mode=` says otherwise) to the everything
    server over stdio, then over HTTP; what the server sent is schema-checked when the client closes."""
    if request.param == "stdio":
        yield lambda **options: stdio_client(tmp_path, **options)
        return
    server = HttpServerProcess()
    try:
        yield lambda **options: http_client(server.url, **options)
    finally:
        server.stop()
