"""Limits: the session cap, the idle session timeout, the in-flight cap per session."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.inprocess import served
from tests.support.wire import assert_accepted, assert_rpc_error


async def test_session_cap_is_503_until_one_ends() -> None:
    async with served(max_sessions=3) as wire:
        sessions = [await wire.initialize() for _ in range(3)]
        init = wire.init_request()
        assert_rpc_error(wire, await wire.post(init), 503)
        for s in sessions:  # the existing sessions are unaffected
            assert (await wire.ping(s)).status_code == 200
        assert (await wire.delete(sessions[0])).status_code == 200
        await wire.assert_serving()  # there is room again ...
        init = wire.init_request()
        assert_rpc_error(wire, await wire.post(init), 503)  # ... for one


async def test_idle_session_expires_but_busy_one_does_not() -> None:
    # Two slots: whether an expired session still counts can be read from the 503 without touching it (any
    # successful request on a session resets its idle clock).
    async with served(session_idle_timeout=0.3, max_sessions=2) as wire:
        idle = await wire.initialize()
        busy = await wire.initialize()
        call = asyncio.create_task(wire.call(busy, "blocking_sleep", {"seconds": 1.5}))
        await asyncio.sleep(1.0)
        # `idle` has been gone for a while, `busy` (idle clock 1 s old, but a call in flight) is not.
        await wire.initialize()
        init = wire.init_request()
        assert_rpc_error(wire, await wire.post(init), 503)
        _, result, _ = await call
        assert result["content"][0]["text"] == "slept"
        assert_rpc_error(wire, await wire.post(wire.request("ping"), idle), 404)


@pytest.mark.parametrize("activity", ["call", "get"])
async def test_idle_clock_starts_after_activity_ends(activity: str) -> None:
    async with served(session_idle_timeout=0.5) as wire:
        session = await wire.initialize()
        if activity == "call":
            await wire.call(session, "blocking_sleep", {"seconds": 1.2})
        else:
            async with wire.open_get(session) as get:
                await get.until(lambda ev: len(ev) >= 1)
                await asyncio.sleep(1.2)
        await asyncio.sleep(0.3)  # well within the 0.5 s timeout since the session was last busy
        resp = await wire.ping(session)
        assert resp.status_code == 200, f"session expired ({resp.status_code}) 0.3 s after its {activity} ended"


async def test_in_flight_cap_applies_back_pressure() -> None:
    async with served(max_in_flight_per_session=2) as wire:
        session = await wire.initialize()
        start = time.monotonic()

        async def timed_call() -> float:
            _, result, _ = await wire.call(session, "blocking_sleep", {"seconds": 0.5})
            assert result["content"][0]["text"] == "slept"
            return time.monotonic() - start

        done = sorted(await asyncio.gather(*(timed_call() for _ in range(3))))
        # Two ran at once; the third waited for a slot (and was not refused).
        assert done[1] < 0.95, done
        assert done[2] >= 0.95, done
        await wire.assert_serving()


async def test_cancellation_passes_the_in_flight_cap() -> None:
    async with served(max_in_flight_per_session=1) as wire:
        session = await wire.initialize()
        msg = wire.call_request("blocking_sleep", {"seconds": 2.0})
        call = asyncio.create_task(wire.post(msg, session))
        await asyncio.sleep(0.3)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": msg["id"]}}
        start = time.monotonic()
        resp = await wire.post(cancel, session)
        waited = time.monotonic() - start
        await call
        assert_accepted(resp)
        assert waited < 0.5, f"notifications/cancelled waited {waited:.2f} s for the call it cancels"


async def test_out_of_range_durations_are_capped_not_a_crash() -> None:
    # Infinite or astronomically large durations mean "never" in practice: capped at a year, they must not overflow
    # a clock (a panic in the core) when a stream's keep-alive or a session's expiry is scheduled.
    async with served(session_idle_timeout=1e300, keepalive=float("inf")) as wire:
        session = await wire.initialize()
        _, result, _ = await wire.call(session, "echo", {"text": "x"})
        assert result["content"][0]["text"] == "x"
