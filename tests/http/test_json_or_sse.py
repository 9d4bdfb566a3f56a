"""tools/call answered as JSON or as an SSE stream, and the JSON-response mode that sends notifications to GET."""

from __future__ import annotations

import pytest

from tests.support.inprocess import served
from tests.support.sse import parse_sse
from tests.support.wire import HTTP_VERSIONS, Wire


async def test_plain_tool_call_is_answered_as_json(wire: Wire) -> None:
    session = await wire.initialize()
    resp, result, before = await wire.call(session, "add", {"a": 40, "b": 2})
    assert resp.headers["content-type"] == "application/json"
    assert before == [] and result["structuredContent"] == {"result": 42}


@pytest.mark.parametrize("version", HTTP_VERSIONS)
async def test_progress_call_is_answered_as_sse(wire: Wire, version: str) -> None:
    session = await wire.initialize(version)
    all_ids: list[str] = []
    streams = set()
    for token in ("tok", 7):
        msg = wire.call_request("progress", {"steps": 3}, progress_token=token)
        resp = await wire.post(msg, session)
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["x-accel-buffering"] == "no"
        events = parse_sse(resp.text)
        assert all(e.id is not None for e in events), events
        ids = [e.stream_seq() for e in events]
        assert len({s for s, _ in ids}) == 1, "one POST, one stream"
        streams.add(ids[0][0])
        seqs = [q for _, q in ids]
        assert seqs == sorted(set(seqs)), seqs
        # A priming event (id, empty data) first on 2025-11-25 sessions; older clients choke on empty data.
        if version >= "2025-11-25":
            assert events[0].is_priming and events[0].retry == 1000, events[0]
            events = events[1:]
        assert not any(e.data == "" for e in events), events
        msgs = wire.sse_messages(events, version)
        *notes, final = msgs
        assert [n["method"] for n in notes] == ["notifications/progress"] * 3
        assert [n["params"]["progress"] for n in notes] == [1, 2, 3]
        assert all(n["params"]["progressToken"] == token for n in notes)  # same value, same JSON type
        assert final["id"] == msg["id"] and final["result"]["content"][0]["text"] == f"done {token!r}"
        all_ids += [e.id for e in parse_sse(resp.text) if e.id]
    assert len(all_ids) == len(set(all_ids)), "event ids must be unique within the session"
    assert len(streams) == 2 and 0 not in streams


@pytest.mark.parametrize("version", HTTP_VERSIONS)
async def test_json_response_mode_answers_json_and_streams_on_get(version: str) -> None:
    async with served(json_response=True) as wire:
        session = await wire.initialize(version)
        async with wire.open_get(session) as get:
            assert get.status_code == 200
            resp, result, before = await wire.call(session, "progress", {"steps": 3}, progress_token="t")
            assert resp.headers["content-type"] == "application/json" and before == []
            assert result["content"][0]["text"] == "done 't'"
            # The progress notifications could not ride on the JSON answer: they went to the GET stream.
            events = await get.until(lambda ev: sum(e.data != "" for e in ev) >= 3)
        if version >= "2025-11-25":
            assert events[0].is_priming
            events = events[1:]
        else:
            assert not any(e.data == "" for e in events), "no priming event before 2025-11-25"
        notes = wire.sse_messages(events, version)
        assert [(n["method"], n["params"]["progress"]) for n in notes] == [
            ("notifications/progress", i) for i in (1, 2, 3)
        ]
        assert all(e.stream_seq()[0] == 0 for e in events)
        await wire.assert_serving()
