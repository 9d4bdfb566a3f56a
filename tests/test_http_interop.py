"""Streamable HTTP end to end through the official MCP Python SDK client (streamable_http_client + ClientSession).

Every HTTP exchange is recorded by a pass-through transport, and every message the server sent (JSON bodies
and SSE events alike) is validated against the official schema of the negotiated version.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from tests.support.procs import HttpServerProcess
from tests.support.recording import RecordingTransport


@contextlib.asynccontextmanager
async def http_session(url: str, **session_kwargs: Any) -> AsyncIterator[tuple[ClientSession, RecordingTransport]]:
    recorder = RecordingTransport()
    client = httpx2.AsyncClient(transport=recorder, timeout=httpx2.Timeout(30, read=120))
    async with (
        client,
        streamable_http_client(url, http_client=client) as streams,
        ClientSession(streams[0], streams[1], **session_kwargs) as session,
    ):
        await session.initialize()
        yield session, recorder
    recorder.check_all()


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_session_tools_and_schemas(http_server: HttpServerProcess) -> None:
    async with http_session(http_server.url) as (session, recorder):
        assert session.initialize_result is not None
        assert session.initialize_result.protocol_version == "2025-11-25"
        assert {t.name for t in (await session.list_tools()).tools} >= {"echo", "add", "ask_model"}
        assert text_of(await session.call_tool("echo", {"text": "over http"})) == "over http"
        assert (await session.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
        results = await asyncio.gather(*(session.call_tool("slow_add", {"a": i, "b": 1}) for i in range(10)))
        assert [r.structured_content for r in results] == [{"result": i + 1} for i in range(10)]
        bad = await session.call_tool("add", {"a": "x", "b": 1})
        assert bad.is_error and "/a" in text_of(bad)
        await session.send_ping()
    init = next(ex for ex in recorder.exchanges if b'"initialize"' in ex["request"])
    assert init["headers"].get("mcp-session-id")
    calls = [ex for ex in recorder.exchanges if b'"echo"' in ex["request"] and ex["method"] == "POST"]
    assert calls[0]["headers"]["content-type"] == "application/json", "plain calls take the JSON fast path"


async def test_progress_switches_the_answer_to_sse(http_server: HttpServerProcess) -> None:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with http_session(http_server.url) as (session, recorder):
        result = await session.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
        assert text_of(result).startswith("done")
    assert seen == [1, 2, 3]
    call = next(ex for ex in recorder.exchanges if b'"progress"' in ex["request"])
    assert call["headers"]["content-type"] == "text/event-stream"
    events = b"".join(call["chunks"]).decode().split("\n\n")
    assert events[0].startswith("id: ") and events[0].endswith("data: "), "priming event first"


@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_logging_on_the_call_stream(http_server: HttpServerProcess) -> None:
    received: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with http_session(http_server.url, logging_callback=on_log) as (session, _):
        await session.set_logging_level("info")
        assert text_of(await session.call_tool("logs", {})) == "logged"
        await asyncio.sleep(0.1)
    assert [p.level for p in received] == ["info", "warning", "error"]


async def test_sampling_goes_to_the_client_and_back(http_server: HttpServerProcess) -> None:
    asked: list[types.CreateMessageRequestParams] = []

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="forty-two"),
            model="test-model",
            stop_reason="endTurn",
        )

    async with http_session(http_server.url, sampling_callback=sampling) as (session, recorder):
        result = await session.call_tool("ask_model", {"prompt": "the answer?"})
        assert text_of(result) == "model test-model said: forty-two"
    assert len(asked) == 1
    assert asked[0].max_tokens == 50
    assert asked[0].system_prompt == "Be brief."
    message = asked[0].messages[0]
    assert message.role == "user"
    assert isinstance(message.content, types.TextContent) and message.content.text == "the answer?"
    # The request travelled on the tools/call SSE stream; the answer came back as its own POST (202).
    answer = next(ex for ex in recorder.exchanges if b'"forty-two"' in ex["request"])
    assert answer["status"] == 202


async def test_elicitation_accept_and_decline(http_server: HttpServerProcess) -> None:
    replies = iter(
        [
            types.ElicitResult(action="accept", content={"name": "Ada", "email": "ada@example.com", "age": 36}),
            types.ElicitResult(action="decline"),
        ]
    )
    schemas: list[dict[str, Any]] = []

    async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        schemas.append(params.requested_schema)
        return next(replies)

    async with http_session(http_server.url, elicitation_callback=elicitation) as (session, _):
        accepted = await session.call_tool("ask_user", {"question": "Who are you?"})
        assert accepted.structured_content == {"action": "accept", "name": "Ada", "email": "ada@example.com", "age": 36}
        declined = await session.call_tool("ask_user", {"question": "Again?"})
        assert declined.structured_content == {"action": "decline"}
    assert schemas[0]["type"] == "object"
    assert schemas[0]["required"] == ["name", "email"]
    assert schemas[0]["properties"]["age"] == {"type": "integer", "default": 0}


async def test_roots(http_server: HttpServerProcess) -> None:
    async def list_roots(context: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work", name="work")])

    async with http_session(http_server.url, list_roots_callback=list_roots) as (session, _):
        assert (await session.call_tool("roots", {})).structured_content == {"result": ["file:///work"]}


async def test_missing_client_capability_is_a_tool_error(http_server: HttpServerProcess) -> None:
    # No sampling callback: the client does not declare sampling, so the server must not ask.
    async with http_session(http_server.url) as (session, recorder):
        result = await session.call_tool("ask_model", {"prompt": "x"})
        assert result.is_error and "sampling" in text_of(result)
    assert not any(
        isinstance(m, dict) and m.get("method") == "sampling/createMessage" for _, m in recorder.server_messages()
    )


async def test_unanswered_request_times_out_or_is_refused(http_server: HttpServerProcess) -> None:
    async with http_session(http_server.url) as (session, _):
        with anyio.fail_after(10):
            text = text_of(await session.call_tool("ask_unanswered", {}))
    assert text.startswith(("timeout:", "error -32601")), text


async def test_closed_stream_is_resumed_and_the_result_arrives(http_server: HttpServerProcess) -> None:
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    async with http_session(http_server.url) as (session, recorder):
        with anyio.fail_after(20):
            result = await session.call_tool("reconnecting", {}, progress_callback=on_progress)
        assert text_of(result) == "finished after reconnect (closed=True)"
    assert seen == ["before the stream closes", "while the client was away"]
    resumed = [ex for ex in recorder.exchanges if ex["method"] == "GET" and b"finished after" in b"".join(ex["chunks"])]
    assert resumed, "the result came over a resumed GET stream"


async def test_cancellation_over_http(http_server: HttpServerProcess) -> None:
    started = anyio.Event()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        if params.data == "started":
            started.set()

    async with http_session(http_server.url, logging_callback=on_log) as (session, _):
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.call_tool, "wait_forever", {})
            with anyio.fail_after(10):
                await started.wait()
            tg.cancel_scope.cancel()
        ids: Any = None
        for _ in range(50):
            ids = (await session.call_tool("cancelled_ids", {})).structured_content
            if ids and ids["result"]:
                break
            await asyncio.sleep(0.02)
        assert ids is not None and len(ids["result"]) == 1
        assert text_of(await session.call_tool("echo", {"text": "alive"})) == "alive"


async def test_embedded_server_in_a_running_loop() -> None:
    from ferromcp import Server

    server = Server("embedded", "3.0.0")

    @server.tool
    def hello(name: str) -> str:
        return f"hello {name}"

    async with server.http_server(port=0) as url, http_session(url) as (session, _):
        assert session.initialize_result is not None
        assert session.initialize_result.server_info.name == "embedded"
        assert text_of(await session.call_tool("hello", {"name": "loop"})) == "hello loop"
