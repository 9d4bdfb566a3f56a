"""Sessions: the id issued on initialize, requests that name no session or an unknown one, initialize that fails,
and messages that need no answer."""

from __future__ import annotations

import math
import re
from typing import Any

import httpx2
import pytest

from tests.support.inprocess import served
from tests.support.procs import HttpServerProcess
from tests.support.schema import check_server_message
from tests.support.wire import INVALID_REQUEST, LATEST, Session, Wire, assert_accepted, assert_rpc_error


async def test_initialize_issues_random_visible_ascii_session_id(wire: Wire) -> None:
    ids = [(await wire.initialize()).id for _ in range(16)]
    assert len(set(ids)) == len(ids)
    for sid in ids:
        assert re.fullmatch(r"[\x21-\x7e]+", sid), sid
    # >= 128 bits: length x bits per character of the alphabet in use (hex here: 4 bits, so >= 32 chars) ...
    alphabet = set("".join(ids))
    bits_per_char = math.log2(16 if alphabet <= set("0123456789abcdefABCDEF") else len(alphabet))
    assert min(len(s) for s in ids) * bits_per_char >= 128, ids
    # ... and every position varies across sessions: no counter, timestamp or fixed prefix in the id.
    width = min(len(s) for s in ids)
    assert all(len({s[i] for s in ids}) > 1 for i in range(width)), ids
    await wire.assert_serving()


@pytest.mark.parametrize(
    "msg",
    [
        {"jsonrpc": "2.0", "id": "x", "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}},
        {"jsonrpc": "2.0", "id": "x", "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ],
    ids=["tools/call", "ping", "notification"],
)
async def test_post_without_session_header_is_400(wire: Wire, msg: dict[str, Any]) -> None:
    await wire.initialize()  # a session exists, but the request does not name it
    assert_rpc_error(wire, await wire.post(msg), 400)
    await wire.assert_serving()


@pytest.mark.parametrize("sid", ["0" * 32, "no-such-session", "\x7e"])
async def test_unknown_session_is_404(wire: Wire, sid: str) -> None:
    live = await wire.initialize()
    unknown = Session(sid, LATEST)
    assert_rpc_error(wire, await wire.post(wire.request("ping"), unknown), 404)
    assert_rpc_error(wire, await wire.post(wire.call_request("add", {"a": 1, "b": 1}), unknown), 404)
    assert_rpc_error(wire, await wire.get(unknown), 404)
    assert_rpc_error(wire, await wire.delete(unknown), 404)
    assert (await wire.ping(live)).status_code == 200
    await wire.assert_serving()


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}, 200, -32602),
        ({"protocolVersion": 2025, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}, 200, -32602),
        # Not even a valid request envelope: rejected at the HTTP level (400), naming the request it could read.
        ("not an object", 400, INVALID_REQUEST),
    ],
    ids=["missing-version", "version-not-a-string", "params-not-an-object"],
)
async def test_failed_initialize_creates_no_session(params: Any, status: int, code: int) -> None:
    # With room for one session only, a failed initialize that left a session behind would make the good
    # initialize below get 503.
    async with served(max_sessions=1) as wire:
        for _ in range(3):
            msg = wire.request("initialize", params)
            resp = await wire.post(msg)
            if status == 400:
                assert resp.status_code == 400 and "mcp-session-id" not in resp.headers, resp.headers
                (body,) = wire.messages(resp)
                assert body["id"] == msg["id"] and body["error"]["code"] == code, body
                continue
            # A JSON-RPC error answering the request (it has an id): a normal 200 JSON answer, without session.
            assert resp.status_code == 200 and "mcp-session-id" not in resp.headers, resp.headers
            (body,) = wire.messages(resp)
            assert body["id"] == msg["id"] and body["error"]["code"] == code, body
        session = await wire.initialize()
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
        assert result["structuredContent"] == {"result": 3}
        # The one slot is now taken: the cap is real, so the failed attempts above really did not count.
        assert_rpc_error(wire, await wire.post(wire.init_request()), 503)


async def test_notification_and_client_response_are_202_without_body(wire: Wire) -> None:
    session = await wire.initialize()
    for msg in [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        # Responses to requests the server never sent are ignored, but still accepted at the HTTP level.
        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
        {"jsonrpc": "2.0", "id": 17, "error": {"code": -32601, "message": "Method not found"}},
    ]:
        resp = await wire.post(msg, session)
        assert_accepted(resp)
        assert "content-type" not in resp.headers
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


def test_malformed_initialize_says_what_is_wrong(http_server: HttpServerProcess) -> None:
    bad = {"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": "not an object"}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    with httpx2.Client(timeout=10) as client:
        reply = client.post(http_server.url, json=bad, headers=headers)
    assert reply.status_code == 400
    assert "mcp-session-id" not in reply.headers
    body = reply.json()
    assert body["id"] == 9 and body["error"]["code"] == -32600
    assert "params must be an object" in body["error"]["message"]
    check_server_message("2025-11-25", body, {9: "initialize"})


async def test_a_session_id_prefix_names_the_replica() -> None:
    async with served(session_id_prefix="replica-b.") as wire:
        session = await wire.initialize()
        assert session.id.startswith("replica-b.") and len(session.id) == len("replica-b.") + 32, session.id
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
        assert result["structuredContent"] == {"result": 3}
    for bad in ("", "has space", "x" * 33, "semi;colon"):
        with pytest.raises(ValueError, match="session_id_prefix"):
            async with served(session_id_prefix=bad):
                pass
