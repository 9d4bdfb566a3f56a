"""`subscriptions/listen` (2026-07-28) through the official client over stdio and HTTP: the acknowledgement
says what the server honours, change events arrive for what was asked (and nothing else), and every message
carries the subscription's id; raw over HTTP, the stream's first frame is the acknowledgement, a closed stream
ends the subscription, and a server shutting down ends it gracefully with the listen request's result."""

from __future__ import annotations

import json
import threading
from typing import Any

import anyio
import httpx2
from mcp.client.subscriptions import PromptsListChanged, ResourceUpdated, ToolsListChanged

from tests.conftest import Connect
from tests.support.procs import HttpServerProcess
from tests.support.stateless import META, MODERN

SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"


async def test_change_events_for_what_was_asked(connect: Connect) -> None:
    async with connect() as (client, wire):
        async with client.listen(tools_list_changed=True, resource_subscriptions=["test://readme"]) as sub:
            assert sub.honored.tools_list_changed
            assert sub.honored.resource_subscriptions == ["test://readme"]
            assert not sub.honored.prompts_list_changed
            await client.call_tool("remove_dynamic_prompt", {})  # not asked for: never delivered
            await client.call_tool("add_dynamic_tool", {"name": "fresh"})
            await client.call_tool("touch_readme", {})
            events: list[Any] = []
            with anyio.fail_after(5):
                async for event in sub:
                    events.append(event)
                    if len(events) == 2:
                        break
        assert {type(e) for e in events} == {ToolsListChanged, ResourceUpdated}
        assert "fresh" in [t.name for t in (await client.list_tools()).tools]
    listen = [m for m in wire.sent if m.get("method") == "subscriptions/listen"]
    assert len(listen) == 1
    frames = [m for m in wire.received if isinstance(m, dict) and m.get("method", "").startswith("notifications/")]
    assert frames[0]["method"] == "notifications/subscriptions/acknowledged"
    assert all(f["params"]["_meta"][SUBSCRIPTION_ID] == listen[0]["id"] for f in frames)
    assert "notifications/prompts/list_changed" not in [f["method"] for f in frames]


async def test_prompt_changes_reach_a_prompt_subscription(connect: Connect) -> None:
    async with connect() as (client, _), client.listen(prompts_list_changed=True) as sub:
        assert sub.honored.prompts_list_changed
        await client.call_tool("remove_dynamic_prompt", {})
        with anyio.fail_after(5):
            event = await sub.__anext__()
        assert isinstance(event, PromptsListChanged)


def _listen_body(request_id: int, notifications: dict[str, Any]) -> bytes:
    params = {"_meta": META, "notifications": notifications}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "subscriptions/listen", "params": params}).encode()


HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": MODERN,
    "Mcp-Method": "subscriptions/listen",
}


def _read_frames(url: str, body: bytes, frames: list[Any], opened: threading.Event) -> None:
    with httpx2.stream("POST", url, content=body, headers=HEADERS, timeout=20) as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data:"):
                frames.append(json.loads(line[5:]))
                opened.set()


def test_a_shutdown_ends_listen_streams_gracefully() -> None:
    server = HttpServerProcess()
    frames: list[Any] = []
    opened = threading.Event()
    reader = threading.Thread(
        target=_read_frames, args=(server.url, _listen_body(7, {"toolsListChanged": True}), frames, opened)
    )
    reader.start()
    try:
        assert opened.wait(10), "no acknowledgement"
    finally:
        server.stop()
        reader.join(10)
    assert not reader.is_alive(), "the stream did not end"
    assert frames[0]["method"] == "notifications/subscriptions/acknowledged"
    assert frames[0]["params"] == {"notifications": {"toolsListChanged": True}, "_meta": {SUBSCRIPTION_ID: 7}}
    assert frames[-1] == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {"resultType": "complete", "_meta": {SUBSCRIPTION_ID: 7}},
    }


def test_bad_listen_requests(http_server: HttpServerProcess) -> None:
    no_filter = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": {"_meta": META}})
    resp = httpx2.post(http_server.url, content=no_filter, headers=HEADERS, timeout=10)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == -32602 and resp.json()["id"] == 1


async def test_listen_streams_even_when_the_server_answers_json_only() -> None:
    from ferromcp import Server

    server = Server("json-only")

    @server.tool
    def noop() -> str:
        return "ok"

    async with server.http_server(port=0, json_response=True) as url, httpx2.AsyncClient() as client:
        body = _listen_body(3, {"toolsListChanged": True})
        async with client.stream("POST", url, content=body, headers=HEADERS, timeout=10) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    assert json.loads(line[5:])["method"] == "notifications/subscriptions/acknowledged"
                    break
