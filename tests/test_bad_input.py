"""Every kind of bad input gets a spec-shaped JSON-RPC error, and the same process keeps serving afterwards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.schema import check_server_message, check_transcript
from tests.support.stdio import RawServer

GOOD_CALL = {
    "jsonrpc": "2.0",
    "id": "after",
    "method": "tools/call",
    "params": {"name": "add", "arguments": {"a": 1, "b": 2}},
}


def still_serving(raw: RawServer) -> None:
    raw.send(GOOD_CALL)
    reply = raw.recv()
    assert reply["id"] == "after" and reply["result"]["structuredContent"] == {"result": 3}


def check_error(reply: Any, code: int, id: Any = "missing") -> None:
    assert reply["error"]["code"] == code, reply
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    if id == "missing":
        assert "id" not in reply
    else:
        assert reply["id"] == id
    check_server_message("2025-11-25", reply, {})


@pytest.mark.parametrize(
    "line",
    [b"{not json", b'{"jsonrpc":"2.0","id":1,"method":"ping"', b"\xff\xfe garbage", b'{"a":1} {"b":2}'],
    ids=["truncated-object", "unterminated", "not-utf8", "two-values"],
)
def test_parse_error(raw: RawServer, line: bytes) -> None:
    raw.initialize()
    raw.send_raw(line + b"\n")
    check_error(raw.recv(), -32700)
    still_serving(raw)


@pytest.mark.parametrize(
    ("message", "id"),
    [
        ({"jsonrpc": "2.0", "id": None, "method": "ping"}, "missing"),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, "missing"),
        ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, "missing"),
        ({"jsonrpc": "1.0", "id": 7, "method": "ping"}, 7),
        ({"id": 8, "method": "ping"}, 8),
        ({"jsonrpc": "2.0", "id": 9, "method": 12}, 9),
        ({"jsonrpc": "2.0", "id": 10, "method": "tools/list", "params": [1, 2]}, 10),
        ({"jsonrpc": "2.0", "id": 11}, 11),
        ({"jsonrpc": "2.0", "id": 12, "method": "ping", "result": {}}, 12),
        (42, "missing"),
        ("a string", "missing"),
    ],
    ids=[
        "null-id",
        "fractional-id",
        "array-id",
        "wrong-version",
        "no-jsonrpc",
        "method-not-string",
        "params-array",
        "no-method",
        "request-with-result",
        "number",
        "string",
    ],
)
def test_invalid_request(raw: RawServer, message: Any, id: Any) -> None:
    raw.initialize()
    raw.send(message)
    check_error(raw.recv(), -32600, id)
    still_serving(raw)


def test_batch_outside_2025_03_26_is_invalid(raw: RawServer) -> None:
    raw.initialize("2025-11-25")
    raw.send([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}])
    check_error(raw.recv(), -32600)
    still_serving(raw)


def test_empty_batch_is_invalid_even_on_2025_03_26(raw: RawServer) -> None:
    raw.initialize("2025-03-26")
    raw.send([])
    check_error(raw.recv(), -32600)
    still_serving(raw)


def test_unknown_method(raw: RawServer) -> None:
    raw.initialize()
    check_error(raw.request(3, "resources/frobnicate"), -32601, 3)
    check_error(raw.request(4, "sampling/createMessage"), -32601, 4)  # a client-side method
    still_serving(raw)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"name": "nope", "arguments": {}}, "Unknown tool: nope"),
        ({"arguments": {}}, "name"),
        ({"name": "add", "arguments": [1, 2]}, "must be an object"),
        ({"name": "add", "arguments": "a=1"}, "must be an object"),
        ({"name": 5}, "string"),
    ],
    ids=["unknown-tool", "no-name", "arguments-array", "arguments-string", "name-not-string"],
)
def test_invalid_tool_call_params(raw: RawServer, params: dict[str, Any], fragment: str) -> None:
    raw.initialize()
    reply = raw.request(5, "tools/call", params)
    check_error(reply, -32602, 5)
    assert fragment in reply["error"]["message"]
    still_serving(raw)


def test_invalid_cursor_and_log_level(raw: RawServer) -> None:
    raw.initialize()
    check_error(raw.request(6, "tools/list", {"cursor": "not-a-cursor"}), -32602, 6)
    check_error(raw.request(7, "logging/setLevel", {"level": "chatty"}), -32602, 7)
    check_error(raw.request(8, "logging/setLevel", {}), -32602, 8)
    check_error(raw.request(9, "initialize", {"capabilities": {}}), -32602, 9)
    still_serving(raw)


def test_invalid_arguments_are_a_tool_error_naming_the_path(raw: RawServer) -> None:
    raw.initialize()
    reply = raw.request(
        10,
        "tools/call",
        {
            "name": "typed",
            "arguments": {
                "color": "red",
                "address": {"street": 1, "zip": "z"},
                "tags": [],
                "point": {"x": 1, "y": 2},
                "person": {"name": "a", "age": -1},
            },
        },
    )
    result = reply["result"]
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "/address/street" in text and "/person/age" in text, text
    check_server_message("2025-11-25", reply, {10: "tools/call"})
    still_serving(raw)


def test_requests_before_initialize(raw: RawServer) -> None:
    check_error(raw.request(1, "tools/list"), -32600, 1)
    assert raw.request(2, "ping") == {"jsonrpc": "2.0", "id": 2, "result": {}}
    raw.initialize()
    check_error(raw.request(3, "initialize", {"protocolVersion": "2025-11-25"}), -32600, 3)
    still_serving(raw)


def test_duplicate_in_flight_id(raw: RawServer) -> None:
    raw.initialize()
    call = {
        "jsonrpc": "2.0",
        "id": 77,
        "method": "tools/call",
        "params": {"name": "blocking_sleep", "arguments": {"seconds": 0.3}},
    }
    raw.send(call)
    raw.send(call)
    check_error(raw.recv(), -32600, 77)
    assert raw.recv()["result"]["content"][0]["text"] == "slept"
    still_serving(raw)


def test_oversized_line_is_discarded_and_serving_continues() -> None:
    raw = RawServer()
    try:
        raw.initialize()
        huge = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "echo", "arguments": {"text": "x" * (5 * 1024 * 1024)}},
            }
        )
        raw.send_raw(huge.encode() + b"\n")
        reply = raw.recv()
        check_error(reply, -32600)
        assert "exceeds the limit of 4194304 bytes" in reply["error"]["message"]
        still_serving(raw)
    finally:
        raw.close()


def test_crlf_and_blank_lines_are_tolerated(raw: RawServer) -> None:
    raw.initialize()
    raw.send_raw(b"\r\n\n" + json.dumps(GOOD_CALL).encode() + b"\r\n")
    assert raw.recv()["result"]["structuredContent"] == {"result": 3}


def test_unknown_notifications_and_stray_responses_are_ignored(raw: RawServer) -> None:
    raw.initialize()
    raw.send({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {"x": 1}})
    raw.send({"jsonrpc": "2.0", "id": 999, "result": {}})
    raw.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 12345}})
    raw.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {}})
    raw.assert_quiet()
    still_serving(raw)


def test_every_reply_is_schema_valid(raw: RawServer) -> None:
    raw.initialize()
    raw.request(1, "tools/list")
    raw.request(2, "ping")
    raw.request(3, "tools/call", {"name": "add", "arguments": {"a": "x"}})
    raw.request(4, "nope")
    raw.close()
    assert len(check_transcript(raw.transcript())) == 5


def test_capabilities_not_offered_are_method_not_found(tmp_path: Path) -> None:
    script = tmp_path / "tools_only.py"
    script.write_text(
        "from ferromcp import Server\nserver = Server('t')\nserver.add_tool(lambda: 1, name='one')\nserver.run()\n"
    )
    raw = RawServer(script)
    try:
        caps = raw.initialize()["result"]["capabilities"]
        assert set(caps) == {"logging", "tools"}
        for i, method in enumerate(
            ["prompts/list", "resources/list", "resources/read", "completion/complete", "tasks/list"]
        ):
            check_error(raw.request(i + 1, method, {"uri": "x://y"}), -32601, i + 1)
    finally:
        raw.close()
