"""Streamable HTTP in the stateless era (2026-07-28): through the official client in `mode="2026-07-28"` (every
message recorded and validated against the 2026-07-28 schema), and raw for the transport rules: no session minted,
routing headers checked against the body (-32020), errors as statuses, GET/DELETE 405."""

from __future__ import annotations

import time

import httpx2
import pytest
from mcp.shared.exceptions import MCPError

from tests.support.clients import http_client
from tests.support.procs import HttpServerProcess
from tests.support.stateless import META, META_VERSION, MODERN, call, post


async def test_the_official_client_in_the_stateless_era(http_server: HttpServerProcess) -> None:
    async with http_client(http_server.url) as (client, wire):
        assert "echo" in [t.name for t in (await client.list_tools()).tools]
        echoed = await client.call_tool("echo", {"text": "no session"})
        assert echoed.content[0].text == "no session"  # type: ignore[union-attr]
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        assert not (await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)).is_error
        assert progress == [1, 2, 3]
        read = await client.read_resource("test://items/3")
        assert read.contents[0].uri == "test://items/3"
        with pytest.raises(MCPError) as missing:
            await client.read_resource("test://nothing-here")
        assert missing.value.error.code == -32602
    assert all(result["resultType"] == "complete" for result in wire.results())
    sent = [ex for ex in wire.exchanges if ex["method"] == "POST"]
    assert sent and all(b'"initialize"' not in ex["request"] for ex in sent)
    # The answer with progress came as SSE; the plain ones as JSON.
    types = {ex["headers"].get("content-type", "").split(";")[0] for ex in sent}
    assert types == {"application/json", "text/event-stream"}


def test_raw_rules(http_server: HttpServerProcess) -> None:
    url = http_server.url
    ok = post(url, call("echo", {"text": "x"}), **{"Mcp-Name": "echo"})
    assert ok.status_code == 200 and ok.json()["result"]["content"][0]["text"] == "x"
    assert "mcp-session-id" not in ok.headers

    # Routing headers must match the body.
    for headers in ({"Mcp-Name": "add"}, {"Mcp-Method": "tools/list", "Mcp-Name": "echo"}, {}):
        bad = post(url, call("echo", {"text": "x"}, 2), **headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == -32020, (headers, bad.text)
        assert bad.json()["id"] == 2
    # A legacy version in the header is legacy traffic: without a session it is refused as such.
    legacy = post(url, call("echo", {"text": "x"}, 3), **{"Mcp-Name": "echo", "MCP-Protocol-Version": "2025-11-25"})
    assert legacy.status_code == 400 and legacy.json()["error"]["code"] == -32600

    # A legacy-only or unknown method is 404 with -32601.
    ping = {"jsonrpc": "2.0", "id": 4, "method": "ping", "params": {"_meta": META}}
    gone = post(url, ping)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == -32601 and gone.json()["id"] == 4

    # A request without _meta is invalid params.
    bare = post(url, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"})
    assert bare.status_code == 400 and bare.json()["error"]["code"] == -32602

    # No GET stream, no session to delete.
    for method in ("GET", "DELETE"):
        resp = httpx2.request(method, url, headers={"MCP-Protocol-Version": MODERN, "Accept": "text/event-stream"})
        assert resp.status_code == 405 and resp.headers["allow"] == "POST"


def test_closing_the_stream_cancels_the_handler(http_server: HttpServerProcess) -> None:
    url = http_server.url
    body = call("wait_forever", {}, 9)
    body["params"]["_meta"] = {**META, "io.modelcontextprotocol/logLevel": "info"}
    with httpx2.stream(
        "POST",
        url,
        json=body,
        headers={
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": "tools/call",
            "Mcp-Name": "wait_forever",
        },
        timeout=10,
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data:"):
                break  # the handler is running and reported progress; now walk away
    deadline = time.monotonic() + 5
    while True:
        ids = post(url, call("cancelled_ids", {}, 10), **{"Mcp-Name": "cancelled_ids"}).json()
        if "9" in ids["result"]["structuredContent"]["result"]:
            break
        assert time.monotonic() < deadline, f"the handler was not cancelled: {ids}"
        time.sleep(0.05)


def test_bad_input_gets_stateless_errors(http_server: HttpServerProcess) -> None:
    url = http_server.url
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    stateless = {**headers, "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}
    listing = {"jsonrpc": "2.0", "id": 21, "method": "tools/list", "params": {"_meta": META}}

    # A version nobody speaks, from a stateless client: -32022 names the ones this server does.
    future = {
        "jsonrpc": "2.0",
        "id": 22,
        "method": "tools/list",
        "params": {"_meta": {**META, META_VERSION: "2099-01-01"}},
    }
    resp = httpx2.post(url, json=future, headers={**stateless, "MCP-Protocol-Version": "2099-01-01"})
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["code"] == -32022 and resp.json()["id"] == 22
    assert error["data"] == {"supported": [MODERN], "requested": "2099-01-01"}
    # The header and _meta disagree: a header mismatch.
    resp = httpx2.post(url, json=future, headers=stateless)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == -32020

    for body, status, code in (
        (b"[" + httpx2.Request("POST", url, json=listing).content + b"]", 400, -32600),  # a batch
        (b'{"jsonrpc":"2.0","id":5,"result":{}}', 400, -32600),  # a response
        (b'{"jsonrpc":"2.0","method":"tools/list"', 400, -32700),  # not JSON
    ):
        resp = httpx2.post(url, content=body, headers=stateless)
        assert resp.status_code == status and resp.json()["error"]["code"] == code, (body, resp.text)
    note = httpx2.post(url, json={"jsonrpc": "2.0", "method": "notifications/anything"}, headers=stateless)
    assert note.status_code == 202 and not note.content

    good = httpx2.post(url, json=listing, headers=stateless)
    assert good.status_code == 200 and good.json()["result"]["resultType"] == "complete"
