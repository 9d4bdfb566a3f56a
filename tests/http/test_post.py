"""POST: what it must accept (Accept, Content-Type), how large its body may be, and a body that is not JSON."""

from __future__ import annotations

import json

import httpx2
import pytest

from tests.support.inprocess import served
from tests.support.procs import HttpServerProcess
from tests.support.raw import raw_exchange
from tests.support.wire import ACCEPT_BOTH, INVALID_REQUEST, LATEST, PARSE_ERROR, Wire, assert_rpc_error, port_of


@pytest.mark.parametrize(
    "accept", [None, "application/json", "text/event-stream", "text/html", "application/json;q=1, text/plain"]
)
async def test_post_must_accept_json_and_event_stream(wire: Wire, accept: str | None) -> None:
    session = await wire.initialize()
    # On an existing session and on an initialize: both are refused before anything else happens.
    call = wire.call_request("add", {"a": 1, "b": 2})
    headers = {"Accept": accept} if accept else {}
    assert_rpc_error(wire, await wire.post(call, session, headers=headers, drop_accept=not accept), 406)
    init = wire.init_request()
    assert_rpc_error(wire, await wire.post(init, headers=headers, drop_accept=not accept), 406)
    # The session is intact.
    _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
    assert result["structuredContent"] == {"result": 3}
    await wire.assert_serving()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"])
async def test_post_wrong_content_type_is_415(wire: Wire, content_type: str | None) -> None:
    session = await wire.initialize()
    call = wire.call_request("add", {"a": 1, "b": 2})
    req = wire.client.build_request(
        "POST", wire.url, content=json.dumps(call).encode(), headers={"Accept": ACCEPT_BOTH, **session.headers}
    )
    if content_type:
        req.headers["Content-Type"] = content_type
    wire.note_sent(call)
    assert_rpc_error(wire, await wire.client.send(req), 415)
    await wire.assert_serving()


async def test_post_content_type_with_parameters_is_fine(wire: Wire) -> None:
    session = await wire.initialize()
    resp = await wire.post(
        wire.call_request("add", {"a": 1, "b": 2}), session, headers={"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert resp.status_code == 200
    (msg,) = wire.messages(resp)
    assert msg["result"]["structuredContent"] == {"result": 3}


LIMIT = 1024


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_post_body_over_limit_is_413(framing: str) -> None:
    async with served(max_request_body_size=LIMIT) as wire:
        session = await wire.initialize()
        port = port_of(wire.url)
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {ACCEPT_BOTH}\r\n"
            f"Content-Type: application/json\r\nMcp-Session-Id: {session.id}\r\nConnection: close\r\n"
        )
        if framing == "content-length":
            # Refused from the declared length alone: the body is never sent (nor needs to be read).
            resp = await raw_exchange(port, f"{head}Content-Length: {LIMIT + 1}\r\n\r\n".encode())
        else:
            # No length up front: the server must count while reading. The chunks exceed the limit; the
            # terminating chunk is never sent, so a server that waited for the whole body would time out.
            chunk = b"x" * 600
            part = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            resp = await raw_exchange(port, f"{head}Transfer-Encoding: chunked\r\n\r\n".encode(), part, part)
        assert resp.status == 413, resp
        assert resp.headers["content-type"] == "application/json"
        body = json.loads(resp.body)
        wire.note(LATEST, [body])
        assert set(body) == {"jsonrpc", "error"} and body["error"]["code"] == INVALID_REQUEST, body

        # A body of exactly the limit is fine, on the same session.
        call = wire.call_request("echo", {"text": ""})
        text = "y" * (LIMIT - len(json.dumps(call).encode()))
        call["params"]["arguments"]["text"] = text
        assert len(json.dumps(call).encode()) == LIMIT
        resp = await wire.post(call, session)
        assert resp.status_code == 200, resp.text
        assert wire.messages(resp)[0]["result"]["content"][0]["text"] == text
        await wire.assert_serving()


@pytest.mark.parametrize("body", [b"{not json", b'{"jsonrpc":"2.0","id":1,"method":"ping"', b"", b"\xff\xfe{}"])
@pytest.mark.parametrize("with_session", [True, False], ids=["session", "no-session"])
async def test_malformed_json_is_400_parse_error(wire: Wire, body: bytes, with_session: bool) -> None:
    session = await wire.initialize()
    resp = await wire.post(session=session if with_session else None, content=body)
    assert_rpc_error(wire, resp, 400, PARSE_ERROR)
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


def test_accept_with_q_zero_is_not_acceptable(http_server: HttpServerProcess) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream;q=0"}
    with httpx2.Client(timeout=10) as client:
        refused = client.post(http_server.url, json=init, headers=headers)
        assert refused.status_code == 406
        headers["Accept"] = "application/json;q=0.5, text/event-stream;q=1"
        assert client.post(http_server.url, json=init, headers=headers).status_code == 200
