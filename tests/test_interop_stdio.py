"""End to end through the official MCP Python SDK client over stdio; every server message is schema-checked."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import types

from tests.support.stdio import RawServer, connect


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_initialize_reports_the_server(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, transcript):
        init = session.initialize_result
        assert init is not None
        assert init.protocol_version == "2025-11-25"
        assert init.server_info.name == "everything"
        assert init.server_info.version == "2.0.0"
        assert init.server_info.title == "Everything"
        assert init.instructions == "Test fixture server."
        assert init.capabilities.tools is not None
        assert init.capabilities.logging is not None
        await session.send_ping()
    pings = [m for m in transcript.server_messages() if m.get("id") not in (None, 0)]
    assert pings[-1]["result"] == {}


async def test_tools_list_schemas(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, _):
        tools = {t.name: t for t in (await session.list_tools()).tools}
    assert tools["echo"].input_schema == {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    }
    assert tools["echo"].description == "Echo the text."
    assert tools["echo"].output_schema is None
    assert tools["add"].output_schema == {
        "type": "object",
        "properties": {"result": {"type": "integer"}},
        "required": ["result"],
    }
    typed = tools["typed"]
    assert typed.title == "Typed arguments"
    assert typed.annotations is not None and typed.annotations.read_only_hint is True
    schema = typed.input_schema
    props = schema["properties"]
    assert schema["required"] == ["color", "address", "tags", "point", "person"]
    assert props["color"] == {"$ref": "#/$defs/Color"}
    assert sorted(schema["$defs"]["Color"]["enum"]) == ["green", "red"]
    assert schema["$defs"]["Address"]["required"] == ["street", "zip"]
    assert props["tags"]["items"] == {"$ref": "#/$defs/Tag"}
    assert props["person"]["properties"]["age"]["minimum"] == 0  # pydantic models are inlined
    assert props["level"] == {"enum": ["high", "low"], "default": "low"}  # msgspec sorts enum values
    assert props["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["count"] == {"type": "integer", "minimum": 1, "maximum": 10, "description": "How many", "default": 1}
    assert props["label"]["description"] == "A short label"
    assert "ctx" not in tools["progress"].input_schema["properties"]
    assert tools["pydantic_field"].input_schema["properties"]["query"]["description"] == "What to look for"
    out = tools["typed"].output_schema
    assert out is not None and out["type"] == "object" and "point_sum" in out["properties"]


async def test_sync_async_and_blocking_calls(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, _):
        echo = await session.call_tool("echo", {"text": "héllo\nworld"})
        assert text_of(echo) == "héllo\nworld" and not echo.is_error
        add = await session.call_tool("add", {"a": 2, "b": 40})
        assert text_of(add) == "42" and add.structured_content == {"result": 42}
        scaled = await session.call_tool("scale", {"x": 3})
        assert scaled.structured_content == {"result": 6.0}
        results = await asyncio.gather(*(session.call_tool("slow_add", {"a": i, "b": 1}) for i in range(20)))
        assert [r.structured_content for r in results] == [{"result": i + 1} for i in range(20)]
        blocking = await asyncio.gather(*(session.call_tool("blocking_sleep", {"seconds": 0.2}) for _ in range(4)))
        assert all(text_of(r) == "slept" for r in blocking)


async def test_typed_arguments_are_converted(tmp_path: Path) -> None:
    args: dict[str, Any] = {
        "color": "green",
        "address": {"street": "Main", "zip": "1"},
        "tags": [{"key": "a"}, {"key": "b", "value": 2}],
        "point": {"x": 1, "y": 2},
        "person": {"name": "Ada", "age": 36},
        "note": None,
    }
    async with connect(tmp_path) as (session, _):
        result = await session.call_tool("typed", args)
        assert not result.is_error, result
        expected = {
            "color": "green",
            "street": "Main",
            "tags": 2,
            "point_sum": 3,
            "person": "Ada",
            "level": "low",
            "note": None,
        }
        assert result.structured_content == expected
        assert json.loads(text_of(result)) == expected
        assert text_of(await session.call_tool("pydantic_field", {"query": "abc"})) == "ABC"


async def test_invalid_arguments_are_error_results(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, _):
        bad = await session.call_tool("add", {"a": "one", "b": 2})
        assert bad.is_error
        assert "/a" in text_of(bad) and "integer" in text_of(bad)
        missing = await session.call_tool("add", {"a": 1})
        assert missing.is_error and '"b" is a required property' in text_of(missing)
        enum_bad = await session.call_tool("typed", {"color": "blue"})
        assert enum_bad.is_error and "/color" in text_of(enum_bad)
        constrained = await session.call_tool("pydantic_field", {"query": "a"})
        assert constrained.is_error and "/query" in text_of(constrained)
        with pytest.raises(Exception, match="Unknown tool"):
            await session.call_tool("no_such_tool", {})
        # Still serving.
        assert text_of(await session.call_tool("echo", {"text": "ok"})) == "ok"


async def test_tool_errors(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, _):
        failed = await session.call_tool("fail_tool_error", {})
        assert failed.is_error and text_of(failed) == "this tool failed on purpose"
        crashed = await session.call_tool("fail_crash", {})
        # The exception's message stays in the server's log (see tests/test_error_masking.py).
        assert crashed.is_error
        assert re.fullmatch(r"Error executing tool fail_crash \(error id [0-9a-f]{16}\)", text_of(crashed))


async def test_content_kinds(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, _):
        image = (await session.call_tool("image", {})).content
        assert isinstance(image[0], types.ImageContent) and image[0].mime_type == "image/png"
        audio = (await session.call_tool("audio", {})).content
        assert isinstance(audio[0], types.AudioContent) and audio[0].mime_type == "audio/wav"
        assert audio[0].data == "UklGRi4uLi5XQVZF"
        mixed = (await session.call_tool("mixed", {})).content
        assert [b.type for b in mixed] == ["text", "image", "resource", "resource_link", "text"]
        embedded = mixed[2]
        assert isinstance(embedded, types.EmbeddedResource)
        assert isinstance(embedded.resource, types.TextResourceContents)
        assert embedded.resource.text == "embedded text"
        assert json.loads(mixed[4].text) == {"k": 1}  # type: ignore[union-attr]
        assert (await session.call_tool("nothing", {})).content == []
        untyped = await session.call_tool("untyped", {"value": [1, "two"]})
        assert [text_of(untyped)] == ["1"] and untyped.structured_content is None
        explicit = await session.call_tool("explicit_output", {})
        assert explicit.structured_content == {"ok": True}


async def test_progress_notifications(tmp_path: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect(tmp_path) as (session, transcript):
        result = await session.call_tool("progress", {"steps": 3}, progress_callback=on_progress)
        assert text_of(result).startswith("done ")
    assert seen == [(1, 3, "step 1"), (2, 3, "step 2"), (3, 3, "step 3")]
    progress = [m for m in transcript.server_messages() if m.get("method") == "notifications/progress"]
    assert len(progress) == 3
    call = next(json.loads(line) for d, line in transcript.lines() if d == "in" and '"tools/call"' in line)
    token = call["params"]["_meta"]["progressToken"]
    assert all(p["params"]["progressToken"] == token for p in progress)
    assert type(progress[0]["params"]["progressToken"]) is type(token)


async def test_progress_token_types_are_echoed(tmp_path: Path) -> None:
    raw = RawServer()
    try:
        raw.initialize()
        for token in ("abc", 17):
            raw.send(
                {
                    "jsonrpc": "2.0",
                    "id": 5,
                    "method": "tools/call",
                    "params": {"name": "progress", "arguments": {"steps": 1}, "_meta": {"progressToken": token}},
                }
            )
            note = raw.recv()
            assert note["params"] == {"progressToken": token, "progress": 1, "total": 1, "message": "step 1"}
            assert raw.recv()["result"]["content"][0]["text"] == f"done {token!r}"
        info = raw.request("s", "tools/call", {"name": "request_info", "_meta": {"progressToken": 3}})
        assert info["result"]["structuredContent"] == {"request_id": "s", "progress_token": 3}
    finally:
        raw.close()


# The 2.x client flags logging/setLevel as deprecated by 2026-07-28; legacy sessions still have it.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_logging_notifications_and_levels(tmp_path: Path) -> None:
    received: list[types.LoggingMessageNotificationParams] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with connect(tmp_path, logging_callback=on_log) as (session, transcript):
        await session.call_tool("logs", {})
        await session.set_logging_level("warning")
        await session.call_tool("logs", {})
        await asyncio.sleep(0.1)
    levels = [p.level for p in received]
    assert levels == ["debug", "info", "warning", "error", "warning", "error"]
    assert received[1].data == {"structured": True}
    assert received[2].logger == "custom"
    assert len([m for m in transcript.server_messages() if m.get("method") == "notifications/message"]) == 6


async def test_cancellation_stops_the_handler_and_suppresses_the_response(tmp_path: Path) -> None:
    started = anyio.Event()

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        if params.data == "started":
            started.set()

    async with connect(tmp_path, logging_callback=on_log) as (session, transcript):
        async with anyio.create_task_group() as tg:
            tg.start_soon(session.call_tool, "wait_forever", {})
            with anyio.fail_after(10):
                await started.wait()
            tg.cancel_scope.cancel()
        # The handler sees its CancelledError on its next loop turn, so poll briefly.
        for _ in range(50):
            ids = (await session.call_tool("cancelled_ids", {})).structured_content
            if ids and ids["result"]:
                break
            await asyncio.sleep(0.02)
        assert ids is not None and len(ids["result"]) == 1
        assert text_of(await session.call_tool("echo", {"text": "still here"})) == "still here"
    lines = transcript.lines()
    call_id = next(json.loads(line)["id"] for d, line in lines if d == "in" and "wait_forever" in line)
    assert any(d == "in" and "notifications/cancelled" in line for d, line in lines)
    answered = [json.loads(line) for d, line in lines if d == "out"]
    assert not any(m.get("id") == call_id for m in answered), "a cancelled call must not be answered"


async def test_print_goes_to_stderr_not_the_protocol_stream(tmp_path: Path) -> None:
    async with connect(tmp_path) as (session, transcript):
        assert text_of(await session.call_tool("noisy", {})) == "quiet"
    out = [line for d, line in transcript.lines() if d == "out"]
    assert not any("must go to stderr" in line for line in out)
    transcript.server_messages()  # every stdout line is a valid MCP message
