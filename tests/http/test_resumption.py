"""Resumability (SEP-1699 polling): the server closes a POST's stream, the client resumes with GET + Last-Event-ID."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from tests.support.sse import SseEvent, parse_sse
from tests.support.wire import LATEST, Session, Wire, assert_rpc_error


async def start_reconnecting(wire: Wire, session: Session) -> tuple[dict[str, Any], list[SseEvent]]:
    """Calls `reconnecting`, whose handler closes its SSE stream early; returns the request and what the POST's
    stream carried before the server closed it."""
    msg = wire.call_request("reconnecting", {}, progress_token="r")
    resp = await wire.post(msg, session)
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/event-stream"
    events = parse_sse(resp.text)
    return msg, events


async def test_resume_after_server_closed_stream(wire: Wire) -> None:
    session = await wire.initialize(LATEST)
    msg, events = await start_reconnecting(wire, session)
    # The priming event and the first progress, then the connection ended without the result.
    assert len(events) == 2 and events[0].is_priming and events[0].retry == 1000, events
    (before,) = wire.sse_messages(events, session.version)
    assert before["method"] == "notifications/progress" and before["params"]["progress"] == 1
    stream, last_seq = events[-1].stream_seq()
    assert stream != 0 and events[0].stream_seq() == (stream, last_seq - 1)

    async with wire.open_get(session, {"Last-Event-ID": events[-1].id or ""}) as resumed:
        assert resumed.status_code == 200 and resumed.headers["content-type"] == "text/event-stream"
        missed = await resumed.to_end()  # the stream ends after the result
    # Only what came after the last id seen, of that stream, in order, and no second priming event.
    assert [e.stream_seq() for e in missed] == [(stream, last_seq + 1), (stream, last_seq + 2)], missed
    progress, final = wire.sse_messages(missed, session.version)
    assert progress["method"] == "notifications/progress" and progress["params"]["progress"] == 2
    assert final == {
        "jsonrpc": "2.0",
        "id": msg["id"],
        "result": {"content": [{"type": "text", "text": "finished after reconnect (closed=True)"}]},
    }
    # The session's own GET slot was not taken by the resumption.
    async with wire.open_get(session) as get:
        assert get.status_code == 200
    await wire.assert_serving()


async def test_last_event_id_of_other_stream_never_replays_this_one(wire: Wire) -> None:
    session = await wire.initialize(LATEST)
    # Another finished stream on the same session first.
    other_msg = wire.call_request("progress", {"steps": 2}, progress_token="p")
    other_resp = await wire.post(other_msg, session)
    other_events = parse_sse(other_resp.text)
    wire.sse_messages(other_events, session.version)
    other_stream = other_events[0].stream_seq()[0]

    msg, events = await start_reconnecting(wire, session)
    wire.sse_messages(events, session.version)
    stream = events[0].stream_seq()[0]
    assert stream != other_stream
    await asyncio.sleep(0.4)  # the handler has finished: its result waits in the parked stream's buffer

    # Resuming the other stream from its priming event replays that stream's events only.
    async with wire.open_get(session, {"Last-Event-ID": other_events[0].id or ""}) as resp:
        assert resp.status_code == 200
        replay = await resp.to_end()
    assert [e.id for e in replay] == [e.id for e in other_events[1:]]
    assert all(e.stream_seq()[0] == other_stream for e in replay)
    replayed = wire.sse_messages(replay, session.version)
    assert replayed[-1]["id"] == other_msg["id"]
    assert not any(m.get("id") == msg["id"] for m in replayed)

    # The standalone stream (id 0.x) does not hold them either.
    # Nothing was ever sent there (no GET was open, so not even a priming event): resuming it from the start
    # yields nothing within a while, in particular none of the request streams' events.
    async with wire.open_get(session, {"Last-Event-ID": "0.0"}) as resp:
        assert resp.status_code == 200
        with contextlib.suppress(asyncio.TimeoutError):
            await resp.until(lambda ev: len(ev) >= 1, timeout=0.5)
        assert resp.events == []

    # The parked stream still has everything it owes, not consumed by the other resumptions.
    async with wire.open_get(session, {"Last-Event-ID": events[-1].id or ""}) as resp:
        missed = await resp.to_end()
    assert [e.stream_seq()[0] for e in missed] == [stream, stream]
    assert wire.sse_messages(missed, session.version)[-1]["id"] == msg["id"]


@pytest.mark.parametrize(
    ("last_event_id", "status"),
    [("garbage", 400), ("1", 400), ("1.x", 400), ("-1.2", 400), ("999.1", 404), ("1.999", 404)],
)
async def test_bad_last_event_id(wire: Wire, last_event_id: str, status: int) -> None:
    session = await wire.initialize(LATEST)
    _, events = await start_reconnecting(wire, session)  # stream 1 exists and can be resumed
    wire.sse_messages(events, session.version)
    assert events[0].stream_seq()[0] == 1
    assert_rpc_error(wire, await wire.get(session, {"Last-Event-ID": last_event_id}), status)
    async with wire.open_get(session, {"Last-Event-ID": events[-1].id or ""}) as resp:
        assert resp.status_code == 200
        wire.sse_messages(await resp.to_end(), session.version)
    await wire.assert_serving()


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
async def test_close_stream_before_2025_11_25_keeps_result_reachable(wire: Wire, version: str) -> None:
    session = await wire.initialize(version)
    msg = wire.call_request("reconnecting", {})  # no progress token: the handler sends nothing before closing
    resp = await wire.post(msg, session)
    assert resp.status_code == 200
    msgs = wire.messages(resp, version)
    if any(m.get("id") == msg["id"] for m in msgs):
        return  # the server kept the stream open: fine
    # Otherwise SEP-1699 allows closing the connection only after an event id was sent.
    events = parse_sse(resp.text)
    assert events and events[-1].id, f"stream closed with no event id to resume from: {resp.text!r}"
    async with wire.open_get(session, {"Last-Event-ID": events[-1].id}) as resumed:
        missed = wire.sse_messages(await resumed.to_end(), version)
    assert missed[-1]["id"] == msg["id"]
