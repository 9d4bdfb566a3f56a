"""The per-call timeout of tools (`Server(tool_timeout=...)`, `@server.tool(timeout=...)`): a handler that runs
past it is cancelled and the client gets an `isError` result saying so; the call's slot is free again."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator

import pytest
from ferromcp import Context, Server

from tests.support.wire import Wire, wire_to

timed = Server("timed", "1.0.0", tool_timeout=0.4)
cancelled: list[str] = []
thread_done = threading.Event()


@timed.tool
async def stuck(ctx: Context) -> str:
    """Never returns on its own; records its cancellation."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        cancelled.append(str(ctx.request_id))
        raise
    return "never"


@timed.tool(blocking=True, timeout=0.3)
def stuck_thread() -> str:
    """Blocks a worker thread for longer than its own timeout."""
    time.sleep(1.0)
    thread_done.set()
    return "late"


@timed.tool(timeout=math.inf)
async def patient(seconds: float) -> str:
    """Runs longer than the server's timeout, which it opts out of."""
    await asyncio.sleep(seconds)
    return "done"


@timed.tool(timeout=2.0)
async def quick_enough(seconds: float) -> str:
    """Runs longer than the server's timeout but within its own."""
    await asyncio.sleep(seconds)
    return "done"


@timed.tool
async def times_out_itself() -> str:
    """Raises TimeoutError of its own (not the server's timeout)."""
    raise TimeoutError("upstream took too long")


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    async with (
        timed.http_server("127.0.0.1", 0, "/mcp", max_in_flight_per_session=1, shutdown_timeout=3.0) as url,
        wire_to(url) as w,
    ):
        yield w


def text_of(result: dict[str, object]) -> str:
    content = result["content"]
    assert isinstance(content, list) and content, result
    first = content[0]
    assert isinstance(first, dict)
    return str(first["text"])


async def test_a_stuck_tool_is_cancelled_and_answered_as_a_tool_error(wire: Wire) -> None:
    session = await wire.initialize()
    started = time.monotonic()
    resp, result, _ = await wire.call(session, "stuck")
    elapsed = time.monotonic() - started
    assert resp.status_code == 200
    assert result["isError"] is True, result
    assert text_of(result) == "Tool 'stuck' timed out after 0.4 s"
    assert 0.35 <= elapsed < 2.0, elapsed
    assert len(cancelled) == 1, "the handler did not see its cancellation"
    # The session's only slot is free again.
    _, result, _ = await wire.call(session, "quick_enough", {"seconds": 0.01})
    assert text_of(result) == "done"


async def test_a_blocking_tool_is_answered_at_its_own_timeout(wire: Wire) -> None:
    session = await wire.initialize()
    started = time.monotonic()
    _, result, _ = await wire.call(session, "stuck_thread")
    assert time.monotonic() - started < 0.9
    assert result["isError"] is True and text_of(result) == "Tool 'stuck_thread' timed out after 0.3 s", result
    # The thread cannot be stopped: it runs on, and its late result goes nowhere.
    assert await asyncio.to_thread(thread_done.wait, 5)


async def test_per_tool_timeouts_override_the_server_one(wire: Wire) -> None:
    session = await wire.initialize()
    _, result, _ = await wire.call(session, "patient", {"seconds": 0.6})
    assert result.get("isError") is not True and text_of(result) == "done", result
    _, result, _ = await wire.call(session, "quick_enough", {"seconds": 0.6})
    assert result.get("isError") is not True and text_of(result) == "done", result
    _, result, _ = await wire.call(session, "quick_enough", {"seconds": 5})
    assert result["isError"] is True and text_of(result) == "Tool 'quick_enough' timed out after 2 s", result


async def test_a_tools_own_timeout_error_is_not_the_servers(wire: Wire) -> None:
    session = await wire.initialize()
    _, result, _ = await wire.call(session, "times_out_itself")
    assert result["isError"] is True
    assert "timed out after" not in text_of(result), result


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tool_timeout must be a positive number"):
        Server("bad", tool_timeout=0)
    server = Server("ok", tool_timeout=None)
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        server.add_tool(lambda: "x", name="x", timeout=-1)
