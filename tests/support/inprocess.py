"""The everything server's tools (tests/servers/everything.py) served in-process over Streamable HTTP, for tests
that need server options the subprocess fixture does not take."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.servers.everything import server as everything
from tests.support.wire import Wire, wire_to


@contextlib.asynccontextmanager
async def served(**options: Any) -> AsyncIterator[Wire]:
    """The everything server's tools served in-process with `options` (see HttpOptions), and a Wire to it."""
    options.setdefault("shutdown_timeout", 3.0)
    async with everything.http_server("127.0.0.1", 0, "/mcp", **options) as url, wire_to(url) as wire:
        yield wire
