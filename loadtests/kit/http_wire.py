"""HTTP/1.1 messages of the MCP Streamable HTTP exchange, built as bytes once and parsed without a general-purpose
HTTP library, and the checks of what the server answered."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from .protocol import INITIALIZED, PROTOCOL_VERSION, compact_json, initialize_request

HOST = "127.0.0.1"
MCP_PATH = "/mcp"
# The headers of every POST besides Host, Content-Length and the session's.
POST_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE_BODY = compact_json(initialize_request(1, "ferromcp-loadtests"))
INITIALIZED_BODY = compact_json(INITIALIZED)
ECHO_TEXT = "hello world"


class ProtocolError(Exception):
    """A response that is not what the MCP Streamable HTTP exchange calls for."""


def _post(body: bytes, session_id: bytes | None, extra: Sequence[bytes] = ()) -> bytes:
    lines = [
        b"POST " + MCP_PATH.encode() + b" HTTP/1.1",
        b"Host: " + HOST.encode() + b":%PORT%",
        *(f"{name}: {value}".encode() for name, value in POST_HEADERS.items()),
        b"Content-Length: " + str(len(body)).encode(),
        *extra,
    ]
    if session_id is not None:
        lines += [b"Mcp-Session-Id: " + session_id, b"MCP-Protocol-Version: " + PROTOCOL_VERSION.encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# A stateless (2026-07-28) tools/call: no session; the version and client capabilities in `_meta`, mirrored in the
# routing headers that era requires.
STATELESS_VERSION = "2026-07-28"
_STATELESS_HEADERS = (
    b"MCP-Protocol-Version: " + STATELESS_VERSION.encode(),
    b"Mcp-Method: tools/call",
    b"Mcp-Name: echo",
)


def _stateless_echo_body(request_id: int) -> bytes:
    meta = b'{"io.modelcontextprotocol/protocolVersion":"%s","io.modelcontextprotocol/clientCapabilities":{}}' % (
        STATELESS_VERSION.encode()
    )
    return (
        b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"%s"},"_meta":%s}}'
        % (
            request_id,
            ECHO_TEXT.encode(),
            meta,
        )
    )


def _delete(session_id: bytes) -> bytes:
    return (
        b"DELETE " + MCP_PATH.encode() + b" HTTP/1.1\r\nHost: " + HOST.encode() + b":%PORT%\r\n"
        b"Mcp-Session-Id: " + session_id + b"\r\nMCP-Protocol-Version: " + PROTOCOL_VERSION.encode() + b"\r\n\r\n"
    )


def _echo_body(request_id: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"%s"}}}' % (
        request_id,
        ECHO_TEXT.encode(),
    )


class Requests:
    """Request bytes for one server port, ready to write: the hot loops do no formatting beyond a session id."""

    def __init__(self, port: int) -> None:
        self._port = str(port).encode()
        self.initialize = self._fill(_post(INITIALIZE_BODY, None))

    def _fill(self, raw: bytes) -> bytes:
        return raw.replace(b"%PORT%", self._port, 1)

    def initialized(self, session_id: bytes) -> bytes:
        return self._fill(_post(INITIALIZED_BODY, session_id))

    def echo(self, session_id: bytes, request_id: int = 2) -> bytes:
        return self._fill(_post(_echo_body(request_id), session_id))

    def echo_stateless(self, request_id: int) -> bytes:
        return self._fill(_post(_stateless_echo_body(request_id), None, _STATELESS_HEADERS))

    def delete(self, session_id: bytes) -> bytes:
        return self._fill(_delete(session_id))

    def call(self, session_id: bytes, request_id: int, tool: str, arguments: dict[str, Any], **meta: Any) -> bytes:
        """tools/call of any tool, `meta` as its `_meta` (e.g. progressToken=...); built per call, not for hot loops."""
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        if meta:
            params["_meta"] = meta
        message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
        return self._fill(_post(compact_json(message), session_id))

    def resume(self, session_id: bytes, last_event_id: bytes) -> bytes:
        """GET that resumes an SSE stream after `last_event_id` (SEP-1699)."""
        return self._fill(
            b"GET " + MCP_PATH.encode() + b" HTTP/1.1\r\nHost: " + HOST.encode() + b":%PORT%\r\n"
            b"Accept: text/event-stream\r\nMcp-Session-Id: " + session_id + b"\r\n"
            b"MCP-Protocol-Version: " + PROTOCOL_VERSION.encode() + b"\r\nLast-Event-ID: " + last_event_id + b"\r\n\r\n"
        )


@dataclasses.dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class Response:
    status: int
    head: bytes  # status line and headers, as received
    body: bytes

    def header(self, name: bytes) -> bytes | None:
        key = b"\r\n" + name.lower() + b":"
        start = self.head.lower().find(key)
        if start < 0:
            return None
        start += len(key)
        end = self.head.find(b"\r\n", start)
        return self.head[start : end if end >= 0 else len(self.head)].strip()


def parse_response(buf: bytearray) -> tuple[Response, int] | None:
    """One complete response from the front of `buf` and the bytes it took, or None while it is incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end])
    lower = head.lower()
    status = int(head[9:12])
    start = end + 4
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        j = lower.find(b"\r\n", i + 2)
        total = start + int(head[i + 17 : j if j >= 0 else end])
        if len(buf) < total:
            return None
        return Response(status, head, bytes(buf[start:total])), total
    if b"\r\ntransfer-encoding: chunked" in lower:
        return _parse_chunked(buf, status, head, start)
    if status in (204, 304) or 100 <= status < 200:
        return Response(status, head, b""), start
    raise ProtocolError(f"response with neither Content-Length nor chunked encoding: {head[:200]!r}")


def _parse_chunked(buf: bytearray, status: int, head: bytes, pos: int) -> tuple[Response, int] | None:
    chunks: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        pos = eol + 2
        if size == 0:
            if buf[pos : pos + 2] == b"\r\n":
                return Response(status, head, b"".join(chunks)), pos + 2
            trailer_end = buf.find(b"\r\n\r\n", pos)
            if trailer_end < 0:
                return None
            return Response(status, head, b"".join(chunks)), trailer_end + 4
        if len(buf) < pos + size + 2:
            return None
        chunks.append(bytes(buf[pos : pos + size]))
        pos += size + 2


def jsonrpc_message(response: Response) -> dict[str, Any]:
    """The JSON-RPC response a POST carried, whether as application/json or as an SSE event's data."""
    content_type = (response.header(b"content-type") or b"").lower()
    if content_type.startswith(b"text/event-stream"):
        for event in response.body.replace(b"\r\n", b"\n").split(b"\n\n"):
            data = b"\n".join(line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))
            if not data:
                continue  # priming events and comments carry no message
            message = json.loads(data)
            if isinstance(message, dict) and "id" in message and ("result" in message or "error" in message):
                return message
        raise ProtocolError(f"no JSON-RPC response in the event stream: {response.body[:200]!r}")
    message = json.loads(response.body)
    if not isinstance(message, dict):
        raise ProtocolError(f"not a JSON-RPC message: {response.body[:200]!r}")
    return message


def expect_result(response: Response, what: str) -> dict[str, Any]:
    if response.status != 200:
        raise ProtocolError(f"{what}: HTTP {response.status}: {response.body[:200]!r}")
    message = jsonrpc_message(response)
    if "error" in message or not isinstance(message.get("result"), dict):
        raise ProtocolError(f"{what}: {message}")
    return message["result"]


def quick_ok(response: Response) -> bool:
    """Whether a tools/call answer is a JSON-RPC result, by substring: the hot loops cannot afford a decode each."""
    return response.status == 200 and b'"result"' in response.body and b'"error"' not in response.body


def check_echo(response: Response) -> None:
    result = expect_result(response, "tools/call echo")
    texts = [c.get("text") for c in result.get("content", []) if isinstance(c, dict)]
    if result.get("isError") or texts != [ECHO_TEXT]:
        raise ProtocolError(f"tools/call echo: unexpected result {result}")


def check_session_opened(response: Response) -> bytes:
    expect_result(response, "initialize")
    session_id = response.header(b"mcp-session-id")
    if not session_id:
        raise ProtocolError("initialize: no Mcp-Session-Id header")
    return session_id


def check_accepted(response: Response) -> None:
    if response.status != 202:
        raise ProtocolError(
            f"notifications/initialized: HTTP {response.status} (202 expected): {response.body[:200]!r}"
        )


def check_deleted(response: Response) -> None:
    if response.status not in (200, 202, 204):
        raise ProtocolError(f"DELETE: HTTP {response.status}: {response.body[:200]!r}")
