"""Unexpected exceptions' messages stay on the server: the client gets a generic message with an error id, and the
log carries the traceback under the same id. `mask_error_details=False` shows them; messages meant for the
client (`ToolError`, `ProtocolError`, `ResourceNotFound`) are always sent. Through the official client over
Streamable HTTP, stateless and legacy."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator

import pytest
from ferromcp import ProtocolError, ResourceNotFound, Server, ToolError
from mcp import types
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from tests.support.clients import http_client

SECRET = "weather backend unavailable at db-7.internal:5432"
ID = r"\(error id [0-9a-f]{16}\)"
ERROR_ID = re.compile(r"\(error id ([0-9a-f]{16})\)$")


def make_server(mask: bool) -> Server:
    server = Server("masking", mask_error_details=mask)

    @server.tool
    def broken() -> str:
        raise RuntimeError(SECRET)

    @server.tool
    async def broken_async() -> str:
        raise KeyError(SECRET)

    @server.tool
    def refused() -> str:
        raise ToolError("Oslo is not covered")

    @server.tool
    def bad_request() -> str:
        raise ProtocolError(-32602, "unknown city code")

    @server.resource("weather://{city}")
    def forecast(city: str) -> str:
        if city == "nowhere":
            raise ResourceNotFound(f"no forecast for {city}")
        raise OSError(SECRET)

    @server.prompt
    def summary(city: str) -> str:
        raise ValueError(SECRET)

    return server


@contextlib.asynccontextmanager
async def serve(mode: str, *, mask: bool = True) -> AsyncIterator[Client]:
    async with make_server(mask).http_server(port=0) as url, http_client(url, mode=mode) as (client, _):
        yield client


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def logged_ids(caplog: pytest.LogCaptureFixture) -> dict[str, logging.LogRecord]:
    out: dict[str, logging.LogRecord] = {}
    for record in caplog.records:
        found = re.search(r"\(error id ([0-9a-f]{16})\)", record.getMessage())
        if found:
            out[found.group(1)] = record
    return out


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_unexpected_exceptions_are_masked_and_logged_with_an_error_id(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="ferromcp")
    shown: list[str] = []
    async with serve(mode) as client:
        for tool in ("broken", "broken_async"):
            result = await client.call_tool(tool, {})
            assert result.is_error
            shown.append(text_of(result))
            assert re.fullmatch(rf"Error executing tool {tool} {ID}", shown[-1]), shown[-1]
        with pytest.raises(MCPError) as read:
            await client.read_resource("weather://oslo")
        assert read.value.error.code == -32603
        assert re.fullmatch(rf"Error reading resource weather://oslo {ID}", read.value.error.message)
        shown.append(read.value.error.message)
        with pytest.raises(MCPError) as prompt:
            await client.get_prompt("summary", {"city": "oslo"})
        assert prompt.value.error.code == -32602
        assert re.fullmatch(rf"Invalid arguments for prompt summary {ID}", prompt.value.error.message)
        shown.append(prompt.value.error.message)
    assert not any(SECRET in text for text in shown)
    logged = logged_ids(caplog)
    ids: set[str] = set()
    for text in shown:
        match = ERROR_ID.search(text)
        assert match is not None
        ids.add(match.group(1))
        record = logged[match.group(1)]  # the operator finds the traceback from the id the user reports
        assert record.exc_info is not None and SECRET in str(record.exc_info[1])
    assert len(ids) == len(shown)  # one id per failure


async def test_messages_meant_for_the_client_are_always_sent() -> None:
    async with serve("2026-07-28") as client:
        refused = await client.call_tool("refused", {})
        assert refused.is_error and text_of(refused) == "Oslo is not covered"
        with pytest.raises(MCPError) as bad:
            await client.call_tool("bad_request", {})
        assert (bad.value.error.code, bad.value.error.message) == (-32602, "unknown city code")
        with pytest.raises(MCPError) as missing:
            await client.read_resource("weather://nowhere")
        assert missing.value.error.message == "no forecast for nowhere"


async def test_mask_error_details_false_shows_the_message() -> None:
    async with serve("2026-07-28", mask=False) as client:
        result = await client.call_tool("broken", {})
        assert re.fullmatch(rf"Error executing tool broken: {SECRET} {ID}", text_of(result))
        with pytest.raises(MCPError) as read:
            await client.read_resource("weather://oslo")
        assert SECRET in read.value.error.message
