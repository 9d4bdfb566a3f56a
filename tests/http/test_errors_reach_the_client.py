"""An HTTP-level refusal names the request it refuses, so the official client shows ferromcp's message (it can only
match a JSON-RPC error carrying the request's id; without one it shows a generic -32603)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from ferromcp import Server
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

INVALID_REQUEST = -32600


@pytest.fixture
async def url() -> AsyncIterator[str]:
    server = Server("refusals")

    @server.tool
    def echo(text: str) -> str:
        return text

    async with server.http_server(port=0) as endpoint:
        yield endpoint


async def test_a_foreign_origin_is_refused_with_ferromcps_message(url: str) -> None:
    client = httpx2.AsyncClient(headers={"Origin": "http://evil.example"})
    async with (
        client,
        streamable_http_client(url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        with pytest.raises(MCPError) as refused:
            await session.initialize()
    assert refused.value.error.code == INVALID_REQUEST
    assert refused.value.error.message == 'Forbidden: invalid Origin "http://evil.example"'


async def test_an_ended_session_is_reported_as_not_found(url: str) -> None:
    session_ids: list[str] = []

    async def note_session(response: httpx2.Response) -> None:
        if "mcp-session-id" in response.headers:
            session_ids.append(response.headers["mcp-session-id"])

    client = httpx2.AsyncClient(event_hooks={"response": [note_session]})
    async with (
        client,
        streamable_http_client(url, http_client=client, terminate_on_close=False) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert (await session.call_tool("echo", {"text": "hi"})).content
        # Someone else ends the session (an operator, another tab): the next call finds it gone.
        async with httpx2.AsyncClient() as other:
            assert (await other.delete(url, headers={"Mcp-Session-Id": session_ids[0]})).status_code == 200
        with pytest.raises(MCPError) as refused:
            await session.call_tool("echo", {"text": "again"})
    assert refused.value.error.code == INVALID_REQUEST
    assert refused.value.error.message == "Session not found"
