"""GET: the session's standalone SSE stream (Accept, priming event, one stream per session)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.wire import LATEST, Wire, assert_rpc_error


@pytest.mark.parametrize("accept", ["application/json", "text/html", "text/plain, application/json"])
async def test_get_without_event_stream_accept_is_406(wire: Wire, accept: str) -> None:
    session = await wire.initialize()
    assert_rpc_error(wire, await wire.get(session, headers={"Accept": accept}), 406)
    await wire.assert_serving()


async def test_get_without_session_is_400(wire: Wire) -> None:
    await wire.initialize()
    assert_rpc_error(wire, await wire.get(None), 400)
    await wire.assert_serving()


async def test_get_opens_standalone_stream_with_priming_event(wire: Wire) -> None:
    session = await wire.initialize(LATEST)
    async with wire.open_get(session) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["cache-control"] == "no-cache"
        (first,) = await resp.until(lambda ev: len(ev) >= 1)
        assert first.is_priming and first.retry == 1000, first
        assert first.stream_seq()[0] == 0  # stream 0 is the standalone stream
        # The session keeps serving POSTs while its GET stream is open.
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
        assert result["structuredContent"] == {"result": 3}


async def test_second_get_is_409_until_first_closes(wire: Wire) -> None:
    session = await wire.initialize()
    async with wire.open_get(session) as first:
        assert first.status_code == 200
        await first.until(lambda ev: len(ev) >= 1)
        assert_rpc_error(wire, await wire.get(session), 409)
    # The first stream's connection is closed: the server notices and frees the slot.
    deadline = time.monotonic() + 5
    while True:
        async with wire.open_get(session) as again:
            if again.status_code == 200:
                (ev,) = await again.until(lambda ev: len(ev) >= 1)
                assert ev.is_priming
                break
            await again.resp.aread()
            assert_rpc_error(wire, again.resp, 409)
        assert time.monotonic() < deadline, "the GET slot was not freed after the first stream closed"
        await asyncio.sleep(0.05)
    await wire.assert_serving()
