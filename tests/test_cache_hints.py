"""Stateless results carry the caching hints the server was configured with (`Server(cache_hints=...)` per
method, `cache_hint=` per resource or template), and the server names itself in their `_meta`; a hint for a method
whose results cannot be cached, or with an unknown scope, is refused at once."""

from __future__ import annotations

import httpx2
import pytest
from ferromcp import CacheHint, Server, errors

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}


async def test_hints_and_server_info_on_stateless_results() -> None:
    server = Server("cached", "2.0", cache_hints={"tools/list": CacheHint(ttl_ms=60_000, scope="public")})

    @server.tool
    def echo(text: str) -> str:
        return text

    @server.resource("notes://today")
    def today() -> str:
        return "sunny"

    @server.resource("notes://archive", cache_hint=CacheHint(ttl_ms=86_400_000, scope="public"))
    def archive() -> str:
        return "all of it"

    @server.resource("notes://day/{date}", cache_hint=CacheHint(ttl_ms=3_600_000))
    def day(date: str) -> str:
        return f"notes of {date}"

    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28"}
    async with server.http_server(port=0) as url, httpx2.AsyncClient() as client:

        async def ask(method: str, params: dict[str, object], **extra: str) -> dict[str, object]:
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": META}}
            resp = await client.post(url, json=body, headers={**headers, "Mcp-Method": method, **extra})
            assert resp.status_code == 200, resp.text
            return resp.json()["result"]

        listed = await ask("tools/list", {})
        assert (listed["ttlMs"], listed["cacheScope"]) == (60_000, "public")
        assert listed["_meta"] == {"io.modelcontextprotocol/serverInfo": {"name": "cached", "version": "2.0"}}
        read = await ask("resources/read", {"uri": "notes://today"}, **{"Mcp-Name": "notes://today"})
        assert (read["ttlMs"], read["cacheScope"]) == (0, "private")  # the default
        kept = await ask("resources/read", {"uri": "notes://archive"}, **{"Mcp-Name": "notes://archive"})
        assert (kept["ttlMs"], kept["cacheScope"]) == (86_400_000, "public")
        assert kept["_meta"] == listed["_meta"]
        dated = await ask("resources/read", {"uri": "notes://day/monday"}, **{"Mcp-Name": "notes://day/monday"})
        assert (dated["ttlMs"], dated["cacheScope"]) == (3_600_000, "private")
        assert dated["contents"][0]["text"] == "notes of monday"
        called = await ask("tools/call", {"name": "echo", "arguments": {"text": "x"}}, **{"Mcp-Name": "echo"})
        assert "ttlMs" not in called and called["resultType"] == "complete"


def test_a_hint_for_an_uncacheable_method_is_refused() -> None:
    with pytest.raises(errors.DefinitionError, match="cacheable"):
        Server("bad", cache_hints={"tools/call": CacheHint(ttl_ms=1)})


def test_a_resource_hint_with_an_unknown_scope_is_refused() -> None:
    server = Server("bad")
    with pytest.raises(errors.DefinitionError, match="scope"):
        server.add_resource(lambda: "x", "notes://x", cache_hint=CacheHint(ttl_ms=1, scope="shared"))  # type: ignore[arg-type]
