"""A client that goes away mid-call: its call is cancelled where nobody can pick the answer up (a JSON answer),
and keeps running, holding its in-flight slot, where the client can resume (an SSE stream with event ids); DELETE
cancels a session's running calls; a session whose calls all ended idle-expires."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

import httpx2

from tests.servers.everything import state
from tests.support.inprocess import served
from tests.support.raw import RawClient, request_bytes
from tests.support.wire import Session, Wire, assert_rpc_error, port_of


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def cancelled(call_id: str) -> bool:
    return call_id in state["cancelled"]


async def vanishing_call(wire: Wire, session: Session, call_id: str, *, read: bool) -> RawClient:
    """Starts a wait_forever call on a raw connection; with `read`, waits for its SSE stream's first events."""
    client = await RawClient.connect(port_of(wire.url))
    body = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": {"name": "wait_forever"}}
    client.send(request_bytes(port_of(wire.url), "POST", session, body))
    if read:
        head = await client.read_head()
        assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head.lower(), head
    else:
        await asyncio.sleep(0.3)  # the handler is running (its log goes to the GET stream)
    return client


async def test_disconnect_before_a_json_answer_cancels_the_call_and_frees_its_slot() -> None:
    async with served(json_response=True, max_in_flight_per_session=1) as wire:
        session = await wire.initialize()
        for n, reset in enumerate((True, False)):
            call_id = f"json-gone-{n}"
            client = await vanishing_call(wire, session, call_id, read=False)
            assert not cancelled(call_id)
            client.vanish(reset=reset)
            assert await eventually(lambda call_id=call_id: cancelled(call_id)), "the handler was not cancelled"
            # Its slot is free: the session's one slot serves the next call at once.
            started = time.monotonic()
            _, result, _ = await wire.call(session, "add", {"a": 1, "b": n})
            assert result["structuredContent"] == {"result": 1 + n}
            assert time.monotonic() - started < 2.0


async def test_disconnect_from_a_resumable_stream_keeps_the_call_and_its_slot() -> None:
    async with served(max_in_flight_per_session=1) as wire:
        session = await wire.initialize()  # 2025-11-25: the stream is primed with an event id
        client = await vanishing_call(wire, session, "sse-gone", read=True)
        # The first event (inside the first chunk of the body) is the priming one: an id and empty data.
        first = (await asyncio.wait_for(client.reader.readuntil(b"\n\n"), 5)).decode()
        primed = re.search(r"^id: (\d+\.\d+)\nretry: \d+\ndata: \n\n", first, re.MULTILINE)
        assert primed, first
        last_id = primed[1]
        client.vanish(reset=True)
        await asyncio.sleep(0.5)
        assert not cancelled("sse-gone"), "a resumable call was cancelled by a dropped connection"
        # The call still holds the session's only slot: another request waits for it.
        try:
            await wire.client.post(
                wire.url,
                json=wire.call_request("add", {"a": 1, "b": 1}),
                headers={"Accept": "application/json, text/event-stream", **session.headers},
                timeout=1.0,
            )
        except httpx2.TimeoutException:
            pass
        else:
            raise AssertionError("a request got the slot of a call still running")
        # The client comes back for its stream, and finds the call's events there.
        async with wire.open_get(session, headers={"Last-Event-ID": last_id}) as resumed:
            assert resumed.status_code == 200
            got = await resumed.until(lambda ev: any(e.data for e in ev))
            assert any('"started"' in e.data for e in got), got
            # DELETE ends the session, and with it the call nobody could answer any more.
            assert (await wire.delete(session)).status_code == 200
            assert await eventually(lambda: cancelled("sse-gone")), "DELETE did not cancel the running call"
            await resumed.to_end(timeout=5)
        await wire.assert_serving()


async def test_delete_cancels_running_calls_and_answers_their_posts_404() -> None:
    async with served(json_response=True) as wire:
        session = await wire.initialize()
        msgs = [wire.call_request("wait_forever") for _ in range(3)]
        posts = [asyncio.create_task(wire.post(msg, session)) for msg in msgs]
        await asyncio.sleep(0.3)
        assert (await wire.delete(session)).status_code == 200
        assert await eventually(lambda: all(cancelled(m["id"]) for m in msgs)), state["cancelled"]
        for post in posts:
            assert_rpc_error(wire, await asyncio.wait_for(post, 5), 404)


async def test_a_session_whose_orphaned_calls_were_cancelled_idle_expires() -> None:
    async with served(json_response=True, session_idle_timeout=0.5) as wire:
        session = await wire.initialize()
        client = await vanishing_call(wire, session, "orphan", read=False)
        client.vanish(reset=True)
        assert await eventually(lambda: cancelled("orphan"))
        await asyncio.sleep(1.5)
        assert_rpc_error(wire, await wire.post(wire.request("ping"), session), 404)
