"""Fixtures shared by the test modules; the helpers behind them are in tests/support/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

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
