"""Rate limits (`Server(rate_limit=RateLimit(...))`) and the process-wide in-flight cap, through real sockets:
a limit hit gets 429 + `Retry-After` and the JSON-RPC error -32029 with `data.retryAfterMs` (over stdio the
error alone), other clients and tools keep working, buckets refill."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from ferromcp import RATE_LIMITED, RateLimit, Server
from ferromcp.errors import DefinitionError
from mcp.shared.exceptions import MCPError

from tests.support.clients import http_client, stdio_client
from tests.support.stateless import call

HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
}


def make_server(rate_limit: RateLimit) -> Server:
    server = Server("limited", rate_limit=rate_limit)

    @server.tool
    def echo(text: str) -> str:
        return text

    @server.tool
    def search(query: str) -> str:
        return f"found {query}"

    return server


@contextlib.asynccontextmanager
async def serve(rate_limit: RateLimit) -> AsyncIterator[str]:
    async with make_server(rate_limit).http_server(port=0) as url:
        yield url


async def post_call(client: httpx2.AsyncClient, url: str, tool: str, request_id: int = 1) -> httpx2.Response:
    return await client.post(
        url, json=call(tool, {"text": "x", "query": "x"}, request_id), headers={**HEADERS, "Mcp-Name": tool}
    )


def from_address(address: str) -> httpx2.AsyncClient:
    """A client whose connections come from `address` (another loopback address is another client)."""
    return httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(local_address=address), timeout=10)


async def test_a_stateless_client_over_its_limit_gets_429_with_retry_after() -> None:
    async with serve(RateLimit(per_client="2/m")) as url, from_address("127.0.0.1") as client:
        for i in range(2):
            assert (await post_call(client, url, "echo", i)).status_code == 200
        refused = await post_call(client, url, "search", 7)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "30"  # 2/m: a token every 30 s
        body = refused.json()
        assert body["id"] == 7 and body["error"]["code"] == RATE_LIMITED == -32029
        data = body["error"]["data"]
        assert data["limit"] == "client" and 29_000 < data["retryAfterMs"] <= 30_000
        # Only calls count: listing still works for this client.
        listing = {
            "jsonrpc": "2.0",
            "id": 8,
            "method": "tools/list",
            "params": {"_meta": call("x", {})["params"]["_meta"]},
        }
        listed = await client.post(url, json=listing, headers={**HEADERS, "Mcp-Method": "tools/list"})
        assert listed.status_code == 200 and len(listed.json()["result"]["tools"]) == 2
        async with from_address("127.0.0.2") as other:  # another client has its own bucket
            assert (await post_call(other, url, "echo")).status_code == 200


async def test_a_tool_limit_refuses_that_tool_only() -> None:
    async with serve(RateLimit(per_tool={"search": "1/m"})) as url, from_address("127.0.0.1") as client:
        assert (await post_call(client, url, "search")).status_code == 200
        refused = await post_call(client, url, "search", 2)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        data = refused.json()["error"]["data"]
        assert data["limit"] == "tool" and 59_000 < data["retryAfterMs"] <= 60_000
        for i in range(20):  # other tools are not limited
            assert (await post_call(client, url, "echo", 10 + i)).status_code == 200


async def until_refused(client: Any, tool: str) -> MCPError:
    for _ in range(200):
        try:
            await client.call_tool(tool, {"text": "x", "query": "x"})
        except MCPError as refused:
            return refused
    raise AssertionError("never refused")


async def test_legacy_sessions_have_their_own_buckets_and_buckets_refill() -> None:
    async with (
        serve(RateLimit(per_client="5/s")) as url,
        http_client(url, mode="legacy") as (first, _),
        http_client(url, mode="legacy") as (second, _),
    ):
        refused = await until_refused(first, "echo")
        assert refused.error.code == RATE_LIMITED
        assert refused.error.data is not None
        wait_ms = refused.error.data["retryAfterMs"]
        assert 0 < wait_ms <= 200 and refused.error.data["limit"] == "client"
        assert (await second.call_tool("echo", {"text": "still served"})).content  # another session
        await asyncio.sleep(wait_ms / 1000 + 0.02)
        assert (await first.call_tool("echo", {"text": "refilled"})).content


async def test_stdio_gets_the_json_rpc_error(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(
        "from ferromcp import RateLimit, Server\n"
        "server = Server('limited', rate_limit=RateLimit(per_client='2/h'))\n"
        "@server.tool\n"
        "def echo(text: str) -> str:\n"
        "    return text\n"
        "server.run()\n"
    )
    async with stdio_client(tmp_path, script=script) as (client, _):
        for _ in range(2):
            await client.call_tool("echo", {"text": "x"})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("echo", {"text": "x"})
    assert refused.value.error.code == RATE_LIMITED
    data = refused.value.error.data
    assert data is not None and data["limit"] == "client" and 1_790_000 < data["retryAfterMs"] <= 1_800_000


def test_an_invalid_rate_is_refused_at_construction() -> None:
    with pytest.raises(DefinitionError, match=r"invalid rate \"100 per second\""):
        Server("x", rate_limit=RateLimit(per_client="100 per second"))
    with pytest.raises(DefinitionError, match="invalid rate"):
        Server("x", rate_limit=RateLimit(per_tool={"search": "0/s"}))


async def test_the_in_flight_cap_holds_further_requests_back() -> None:
    server = Server("capped")
    running = 0
    peak = 0
    release = asyncio.Event()

    @server.tool
    async def wait() -> str:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()
        running -= 1
        return "done"

    async with server.http_server(port=0, max_in_flight=2) as url, httpx2.AsyncClient(timeout=10) as client:
        calls = [asyncio.create_task(post_call(client, url, "wait", i)) for i in range(5)]
        async with asyncio.timeout(5):
            while running < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        assert (running, peak) == (2, 2)  # the others wait (back-pressure), not refused
        assert not any(c.done() for c in calls)
        release.set()
        answers = await asyncio.gather(*calls)
    assert [a.status_code for a in answers] == [200] * 5
    assert peak == 2
