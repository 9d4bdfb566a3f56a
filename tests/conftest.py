"""Fixtures shared by the test modules; the helpers behind them are in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.procs import HttpServerProcess
from tests.support.stdio import RawServer


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
