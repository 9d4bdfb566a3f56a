"""`Annotated[str, Header("Region")]` mirrors an argument in `Mcp-Param-Region` on 2026-07-28 HTTP requests: the
schema says so (`x-mcp-header`), and the server checks the header against the argument."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx2
import pytest
from ferromcp import Header, Server, errors

META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
server = Server("headers")


@server.tool
def forecast(region: Annotated[str, Header("Region"), "Where"], days: Annotated[int, Header("Days")] = 1) -> str:
    """A forecast, routed by region."""
    return f"{region}: {days} day(s) of sun"


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with server.http_server(port=0) as endpoint:
        yield endpoint


async def call(url: str, arguments: dict[str, Any], **headers: str) -> httpx2.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "forecast", "arguments": arguments, "_meta": META},
    }
    base = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "forecast",
    }
    async with httpx2.AsyncClient() as client:
        return await client.post(url, json=body, headers={**base, **headers})


def test_the_schema_marks_the_property() -> None:
    (tool,) = server.list_tools()
    props = tool["inputSchema"]["properties"]
    assert props["region"]["x-mcp-header"] == "Region"
    assert props["region"]["description"] == "Where"
    assert props["days"]["x-mcp-header"] == "Days"


async def test_headers_must_mirror_the_arguments(url: str) -> None:
    ok = await call(url, {"region": "Lisbon", "days": 3}, **{"Mcp-Param-Region": "Lisbon", "Mcp-Param-Days": "3"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["result"]["content"][0]["text"] == "Lisbon: 3 day(s) of sun"
    encoded = "=?base64?" + base64.b64encode("Zürich".encode()).decode() + "?="
    ok = await call(url, {"region": "Zürich"}, **{"Mcp-Param-Region": encoded})
    assert ok.status_code == 200, ok.text
    for headers in ({}, {"Mcp-Param-Region": "Oslo"}, {"Mcp-Param-Region": "Lisbon", "Mcp-Param-Days": "4"}):
        bad = await call(url, {"region": "Lisbon", "days": 3}, **headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == -32020, (headers, bad.text)


def test_only_simple_parameters_can_be_mirrored() -> None:
    other = Server("bad")

    def tags(names: Annotated[list[str], Header("Names")]) -> str:
        return ",".join(names)

    with pytest.raises(errors.DefinitionError, match="x-mcp-header"):
        other.add_tool(tags)
