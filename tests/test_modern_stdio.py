"""The stateless era (2026-07-28) over stdio, through the official client in `mode="2026-07-28"`: each request
carries its version and capabilities in `_meta`, no `initialize` is sent, every result carries `resultType`
(and, for lists and reads, `ttlMs` and `cacheScope`), and every message validates against the 2026-07-28 schema.
The same server process keeps serving legacy clients (the other stdio tests)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from tests.support.clients import stdio_client

MODERN = "2026-07-28"


@contextlib.asynccontextmanager
async def modern_client(tmp_path: Path, **client_options: Any) -> AsyncIterator[Client]:
    """The official client over stdio in the stateless era (`tests.support.clients.stdio_client`, which checks
    every line against the schema and that no `initialize` is sent); every message it sent names the version."""
    async with stdio_client(tmp_path, **client_options) as (connected, wire):
        yield connected
    assert wire.sent and all(
        '"io.modelcontextprotocol/protocolVersion":"2026-07-28"' in json.dumps(m, separators=(",", ":"))
        for m in wire.sent
    )


def text_of(result: Any) -> str:
    return result.content[0].text


async def test_tools(tmp_path: Path) -> None:
    async with modern_client(tmp_path) as client:
        await tools(client)


async def tools(client: Client) -> None:
    names = [t.name for t in (await client.list_tools()).tools]
    assert names[:3] == ["echo", "add", "scale"]
    assert text_of(await client.call_tool("echo", {"text": "stateless"})) == "stateless"
    assert (await client.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
    bad = await client.call_tool("add", {"a": "two", "b": 3})
    assert bad.is_error and "Invalid arguments" in text_of(bad)
    with pytest.raises(MCPError) as unknown:
        await client.call_tool("no_such_tool", {})
    assert unknown.value.error.code == -32602


async def test_progress_is_sent_on_the_request(tmp_path: Path) -> None:
    async with modern_client(tmp_path) as client:
        await progress(client)


async def progress(client: Client) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    result = await client.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
    assert not result.is_error
    assert seen == [1, 2, 3]


async def test_resources_prompts_and_templates(tmp_path: Path) -> None:
    async with modern_client(tmp_path) as client:
        await surface(client)


async def surface(client: Client) -> None:
    resources = (await client.list_resources()).resources
    assert [r.uri for r in resources][:2] == ["test://readme", "test://logo"]
    read = await client.read_resource("test://items/7")
    assert read.contents[0].uri == "test://items/7"
    with pytest.raises(MCPError) as missing:
        await client.read_resource("test://nothing-here")
    assert missing.value.error.code == -32602  # -32002 is the legacy code
    prompt = await client.get_prompt("greet", {"name": "Ada"})
    assert "Ada" in prompt.messages[0].content.text  # type: ignore[union-attr]
    templates = (await client.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["test://items/{item_id}", "test://vault/{entry}"]
