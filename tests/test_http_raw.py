"""Streamable HTTP at the wire level: one test per transport rule (status code, headers, JSON-RPC error body), each
followed by a good request to show the server is still serving.

Spec: docs/specification/2025-11-25/basic/transports.mdx (digest: CHECKLIST.md §3.2); the server's own statement of
the rules is rust/core/src/http/service.rs. Every JSON-RPC message a test receives is validated against the
official schema of its session's negotiated version when the test ends (`Wire.check`).

Tests that need special options run the same tools (tests/servers/everything.py) in-process through
`Server.http_server(...)`; the rest use the `http_server` subprocess fixture.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from ferromcp import Context, Server

from tests.servers.everything import server as everything
from tests.support.procs import HttpServerProcess
from tests.support.schema import check_server_message

ACCEPT_BOTH = "application/json, text/event-stream"
POST_HEADERS = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}
SSE_HEADERS = {"Accept": "text/event-stream"}
LATEST = "2025-11-25"
# Versions ferromcp negotiates (rust/core/src/protocol.rs LEGACY_VERSIONS).
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
# The versions that have Streamable HTTP (2024-11-05 had HTTP+SSE).
HTTP_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
EVENT_ID = re.compile(r"^(\d+)\.(\d+)$")
# What the server answers with for every HTTP-level rejection (service.rs `rpc_error`).
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
TIMEOUT = httpx2.Timeout(15.0)


# -- SSE ---------------------------------------------------------------------------------------------------------


@dataclass
class SseEvent:
    id: str | None
    data: str
    retry: int | None

    @property
    def is_priming(self) -> bool:
        return self.id is not None and self.data == ""

    def stream_seq(self) -> tuple[int, int]:
        assert self.id is not None
        m = EVENT_ID.match(self.id)
        assert m, f"event id not of the form <stream>.<seq>: {self.id!r}"
        return int(m[1]), int(m[2])


class SseParser:
    """Incremental parser of the SSE wire format (https://html.spec.whatwg.org/#event-stream-interpretation),
    strict about what this server sends: one `data:` line per event, no duplicated fields."""

    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, text: str) -> list[SseEvent]:
        self.buffer += text.replace("\r\n", "\n")
        *blocks, self.buffer = self.buffer.split("\n\n")
        events: list[SseEvent] = []
        for block in blocks:
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue  # a comment (the keep-alive)
                name, _, value = line.partition(":")
                assert name not in fields, f"duplicated SSE field {name!r} in {block!r}"
                fields[name] = value[1:] if value.startswith(" ") else value
            if not fields:
                continue
            assert set(fields) <= {"id", "data", "retry", "event"}, block
            assert fields.get("event", "message") == "message", block
            retry = fields.get("retry")
            events.append(SseEvent(fields.get("id"), fields.get("data", ""), int(retry) if retry else None))
        return events


def parse_sse(body: str) -> list[SseEvent]:
    """A complete SSE body: every event terminated by a blank line."""
    parser = SseParser()
    events = parser.feed(body)
    assert parser.buffer == "", f"SSE body ends mid-event: {parser.buffer!r}"
    return events


class SseResponse:
    """An open SSE response read incrementally. It holds the one body iterator httpx allows: an iterator that
    is dropped gets closed by asyncio's async-generator finalizer, and that would close the connection."""

    def __init__(self, resp: httpx2.Response) -> None:
        self.resp = resp
        self.parser = SseParser()
        self.events: list[SseEvent] = []
        self._chunks: AsyncIterator[str] | None = None

    @property
    def status_code(self) -> int:
        return self.resp.status_code

    @property
    def headers(self) -> httpx2.Headers:
        return self.resp.headers

    def _iter(self) -> AsyncIterator[str]:
        if self._chunks is None:
            self._chunks = self.resp.aiter_text()
        return self._chunks

    async def until(self, done: Callable[[list[SseEvent]], bool], timeout: float = 10.0) -> list[SseEvent]:
        """Reads until `done(events so far)`; the stream stays open."""
        chunks = self._iter()

        async def read() -> None:
            while not done(self.events):
                self.events += self.parser.feed(await anext(chunks))

        await asyncio.wait_for(read(), timeout)
        return self.events

    async def to_end(self, timeout: float = 10.0) -> list[SseEvent]:
        """Reads until the server ends the stream; returns every event of it."""
        chunks = self._iter()

        async def read() -> None:
            async for text in chunks:
                self.events += self.parser.feed(text)

        await asyncio.wait_for(read(), timeout)
        assert self.parser.buffer == "", f"SSE body ends mid-event: {self.parser.buffer!r}"
        return self.events


# -- a client that records every message for the schema check ----------------------------------------------------


@dataclass
class Session:
    id: str
    version: str

    @property
    def headers(self) -> dict[str, str]:
        h = {"Mcp-Session-Id": self.id}
        if self.version >= "2025-06-18":  # the header exists since 2025-06-18
            h["MCP-Protocol-Version"] = self.version
        return h


class Wire:
    """One test's HTTP client. Every request id is unique within the test, so the responses can be matched to
    their methods; every message received is kept with its session's version and schema-checked at the end."""

    def __init__(self, client: httpx2.AsyncClient, url: str) -> None:
        self.client = client
        self.url = url
        self.methods: dict[Any, str] = {}
        self.received: list[tuple[str, Any]] = []
        self._ids = itertools.count(1)

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params is not None:
            msg["params"] = params
        return msg

    def init_request(self, version: str = LATEST) -> dict[str, Any]:
        client_info = {"name": "raw-http", "version": "1"}
        return self.request("initialize", {"protocolVersion": version, "capabilities": {}, "clientInfo": client_info})

    def call_request(
        self, name: str, arguments: dict[str, Any] | None = None, progress_token: str | int | None = None
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
        if progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        return self.request("tools/call", params)

    def note_sent(self, msg: Any) -> None:
        for item in msg if isinstance(msg, list) else [msg]:
            if isinstance(item, dict) and "id" in item and "method" in item:
                assert item["id"] not in self.methods, "request ids must be unique within a test"
                self.methods[item["id"]] = item["method"]

    def note(self, version: str, msgs: list[Any]) -> list[Any]:
        self.received += [(version, m) for m in msgs]
        return msgs

    def messages(self, resp: httpx2.Response, version: str = LATEST) -> list[Any]:
        """The JSON-RPC messages of a fully read response (JSON or SSE), recorded for the schema check."""
        ctype = resp.headers.get("content-type", "")
        if ctype.startswith("text/event-stream"):
            return self.note(version, [json.loads(e.data) for e in parse_sse(resp.text) if e.data])
        if not resp.content:
            return []
        assert ctype == "application/json", (resp.status_code, ctype, resp.content)
        return self.note(version, [resp.json()])

    def sse_messages(self, events: list[SseEvent], version: str) -> list[Any]:
        return self.note(version, [json.loads(e.data) for e in events if e.data])

    async def post(
        self,
        msg: Any = None,
        session: Session | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        drop_accept: bool = False,
        url: str | httpx2.URL | None = None,
    ) -> httpx2.Response:
        if msg is not None:
            self.note_sent(msg)
            content = json.dumps(msg).encode()
        all_headers = {**POST_HEADERS, **(session.headers if session else {}), **(headers or {})}
        req = self.client.build_request("POST", url or self.url, content=content or b"", headers=all_headers)
        if drop_accept:
            del req.headers["accept"]  # httpx would send `Accept: */*`
        return await self.client.send(req)

    async def initialize(self, version: str = LATEST, *, headers: Mapping[str, str] | None = None) -> Session:
        resp = await self.post(self.init_request(version), headers=headers)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        assert resp.headers["content-type"] == "application/json"
        (msg,) = self.messages(resp, version)
        assert msg["result"]["protocolVersion"] == version, msg
        session = Session(resp.headers["mcp-session-id"], version)
        initialized = await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        assert_accepted(initialized)
        return session

    async def call(
        self,
        session: Session,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        progress_token: str | int | None = None,
    ) -> tuple[httpx2.Response, Any, list[Any]]:
        """tools/call; returns the response, the result and the other messages received before it."""
        msg = self.call_request(name, arguments, progress_token)
        resp = await self.post(msg, session)
        assert resp.status_code == 200, (resp.status_code, resp.text)
        msgs = self.messages(resp, session.version)
        assert msgs and msgs[-1].get("id") == msg["id"] and "result" in msgs[-1], msgs
        return resp, msgs[-1]["result"], msgs[:-1]

    async def ping(self, session: Session) -> httpx2.Response:
        resp = await self.post(self.request("ping"), session)
        self.messages(resp, session.version)
        return resp

    async def get(self, session: Session | None, headers: Mapping[str, str] | None = None) -> httpx2.Response:
        """A GET that is expected to be refused: read whole, its error body recorded."""
        resp = await self.client.get(
            self.url, headers={**SSE_HEADERS, **(session.headers if session else {}), **(headers or {})}
        )
        self.messages(resp)
        return resp

    @contextlib.asynccontextmanager
    async def open_get(self, session: Session, headers: Mapping[str, str] | None = None) -> AsyncIterator[SseResponse]:
        """A GET whose SSE body is read by the caller (closed on exit)."""
        all_headers = {**SSE_HEADERS, **session.headers, **(headers or {})}
        async with self.client.stream("GET", self.url, headers=all_headers) as resp:
            yield SseResponse(resp)

    async def delete(self, session: Session | None, headers: Mapping[str, str] | None = None) -> httpx2.Response:
        resp = await self.client.delete(self.url, headers={**(session.headers if session else {}), **(headers or {})})
        self.messages(resp)
        return resp

    async def assert_serving(self) -> None:
        """A new session and a tool call on it work."""
        session = await self.initialize()
        _, result, _ = await self.call(session, "add", {"a": 2, "b": 3})
        assert result["structuredContent"] == {"result": 5}

    def check(self) -> None:
        for version, msg in self.received:
            check_server_message(version, msg, self.methods)


def assert_accepted(resp: httpx2.Response) -> None:
    assert resp.status_code == 202, (resp.status_code, resp.text)
    assert resp.content == b""


def assert_rpc_error(wire: Wire, resp: httpx2.Response, status: int, code: int = INVALID_REQUEST) -> dict[str, Any]:
    """An HTTP-level rejection: `status`, a JSON body holding one JSON-RPC error without id, and no session."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in resp.headers
    (body,) = wire.messages(resp)
    assert set(body) == {"jsonrpc", "error"} and body["jsonrpc"] == "2.0", body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body
    return body


@contextlib.asynccontextmanager
async def wire_to(url: str, **client_options: Any) -> AsyncIterator[Wire]:
    """A Wire over a new client (closed on exit); the messages received are schema-checked on a clean exit."""
    client_options.setdefault("timeout", TIMEOUT)
    async with httpx2.AsyncClient(**client_options) as client:
        wire = Wire(client, url)
        yield wire
    wire.check()


@contextlib.asynccontextmanager
async def served(**options: Any) -> AsyncIterator[Wire]:
    """The everything server's tools served in-process with `options` (see HttpOptions), and a Wire to it."""
    options.setdefault("shutdown_timeout", 3.0)
    async with everything.http_server("127.0.0.1", 0, "/mcp", **options) as url, wire_to(url) as wire:
        yield wire


@pytest.fixture
async def wire(http_server: HttpServerProcess) -> AsyncIterator[Wire]:
    async with wire_to(http_server.url) as w:
        yield w


# -- raw sockets, for requests httpx will not send ---------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def parse_raw_response(data: bytes) -> RawResponse:
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {data!r}"
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = rest[: int(headers["content-length"])]
        assert len(body) == int(headers["content-length"]), "truncated body"
    else:
        body = rest
    return RawResponse(int(status_line.split()[1]), headers, body)


async def raw_exchange(port: int, *parts: bytes, timeout: float = 10.0) -> RawResponse:
    """Writes `parts` (pausing between them so each reaches the server on its own), then reads the response
    until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i, part in enumerate(parts):
            if i:
                await asyncio.sleep(0.05)
            writer.write(part)
            await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return parse_raw_response(data)


def port_of(url: str) -> int:
    return httpx2.URL(url).port or 80


# =================================================================================================================
# POST
# =================================================================================================================


@pytest.mark.parametrize(
    "accept", [None, "application/json", "text/event-stream", "text/html", "application/json;q=1, text/plain"]
)
async def test_post_must_accept_json_and_event_stream(wire: Wire, accept: str | None) -> None:
    session = await wire.initialize()
    # On an existing session and on an initialize: both are refused before anything else happens.
    call = wire.call_request("add", {"a": 1, "b": 2})
    headers = {"Accept": accept} if accept else {}
    assert_rpc_error(wire, await wire.post(call, session, headers=headers, drop_accept=not accept), 406)
    init = wire.init_request()
    assert_rpc_error(wire, await wire.post(init, headers=headers, drop_accept=not accept), 406)
    # The session is intact.
    _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
    assert result["structuredContent"] == {"result": 3}
    await wire.assert_serving()


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "text/json"])
async def test_post_wrong_content_type_is_415(wire: Wire, content_type: str | None) -> None:
    session = await wire.initialize()
    call = wire.call_request("add", {"a": 1, "b": 2})
    req = wire.client.build_request(
        "POST", wire.url, content=json.dumps(call).encode(), headers={"Accept": ACCEPT_BOTH, **session.headers}
    )
    if content_type:
        req.headers["Content-Type"] = content_type
    wire.note_sent(call)
    assert_rpc_error(wire, await wire.client.send(req), 415)
    await wire.assert_serving()


async def test_post_content_type_with_parameters_is_fine(wire: Wire) -> None:
    session = await wire.initialize()
    resp = await wire.post(
        wire.call_request("add", {"a": 1, "b": 2}), session, headers={"Content-Type": "Application/JSON; charset=utf-8"}
    )
    assert resp.status_code == 200
    (msg,) = wire.messages(resp)
    assert msg["result"]["structuredContent"] == {"result": 3}


LIMIT = 1024


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_post_body_over_limit_is_413(framing: str) -> None:
    async with served(max_request_body_size=LIMIT) as wire:
        session = await wire.initialize()
        port = port_of(wire.url)
        head = (
            f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {ACCEPT_BOTH}\r\n"
            f"Content-Type: application/json\r\nMcp-Session-Id: {session.id}\r\nConnection: close\r\n"
        )
        if framing == "content-length":
            # Refused from the declared length alone: the body is never sent (nor needs to be read).
            resp = await raw_exchange(port, f"{head}Content-Length: {LIMIT + 1}\r\n\r\n".encode())
        else:
            # No length up front: the server must count while reading. The chunks exceed the limit; the
            # terminating chunk is never sent, so a server that waited for the whole body would time out.
            chunk = b"x" * 600
            part = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            resp = await raw_exchange(port, f"{head}Transfer-Encoding: chunked\r\n\r\n".encode(), part, part)
        assert resp.status == 413, resp
        assert resp.headers["content-type"] == "application/json"
        body = json.loads(resp.body)
        wire.note(LATEST, [body])
        assert set(body) == {"jsonrpc", "error"} and body["error"]["code"] == INVALID_REQUEST, body

        # A body of exactly the limit is fine, on the same session.
        call = wire.call_request("echo", {"text": ""})
        text = "y" * (LIMIT - len(json.dumps(call).encode()))
        call["params"]["arguments"]["text"] = text
        assert len(json.dumps(call).encode()) == LIMIT
        resp = await wire.post(call, session)
        assert resp.status_code == 200, resp.text
        assert wire.messages(resp)[0]["result"]["content"][0]["text"] == text
        await wire.assert_serving()


@pytest.mark.parametrize("body", [b"{not json", b'{"jsonrpc":"2.0","id":1,"method":"ping"', b"", b"\xff\xfe{}"])
@pytest.mark.parametrize("with_session", [True, False], ids=["session", "no-session"])
async def test_malformed_json_is_400_parse_error(wire: Wire, body: bytes, with_session: bool) -> None:
    session = await wire.initialize()
    resp = await wire.post(session=session if with_session else None, content=body)
    assert_rpc_error(wire, resp, 400, PARSE_ERROR)
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


BATCH_VERSIONS_REFUSED = [v for v in HTTP_VERSIONS if v != "2025-03-26"]


@pytest.mark.parametrize("version", [*BATCH_VERSIONS_REFUSED, None])
async def test_batch_outside_2025_03_26_session_is_400(wire: Wire, version: str | None) -> None:
    """Batches exist only in 2025-03-26 (removed in 2025-06-18): elsewhere, 400 with -32600."""
    session = await wire.initialize(version) if version else None
    batch = [wire.request("ping"), wire.call_request("add", {"a": 1, "b": 2})]
    if version is None:
        batch = [wire.init_request()]
    assert_rpc_error(wire, await wire.post(batch, session), 400)
    if session:
        assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


async def test_batch_on_2025_03_26_session(wire: Wire) -> None:
    session = await wire.initialize("2025-03-26")
    ping, call = wire.request("ping"), wire.call_request("add", {"a": 20, "b": 22})
    batch = [ping, call, {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}]
    resp = await wire.post(batch, session)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    answers = resp.json()
    wire.note(session.version, [answers])
    assert isinstance(answers, list) and len(answers) == 2, answers  # nothing for the notification
    by_id = {a["id"]: a for a in answers}
    assert by_id[ping["id"]]["result"] == {}
    assert by_id[call["id"]]["result"]["structuredContent"] == {"result": 42}
    # Only notifications and responses: nothing to answer.
    only_notes = [
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {"jsonrpc": "2.0", "id": "from-server-1", "result": {}},
    ]
    assert_accepted(await wire.post(only_notes, session))
    await wire.assert_serving()


# =================================================================================================================
# Sessions
# =================================================================================================================


async def test_initialize_issues_random_visible_ascii_session_id(wire: Wire) -> None:
    ids = [(await wire.initialize()).id for _ in range(16)]
    assert len(set(ids)) == len(ids)
    for sid in ids:
        assert re.fullmatch(r"[\x21-\x7e]+", sid), sid
    # >= 128 bits: length x bits per character of the alphabet in use (hex here: 4 bits, so >= 32 chars) ...
    alphabet = set("".join(ids))
    bits_per_char = math.log2(16 if alphabet <= set("0123456789abcdefABCDEF") else len(alphabet))
    assert min(len(s) for s in ids) * bits_per_char >= 128, ids
    # ... and every position varies across sessions: no counter, timestamp or fixed prefix in the id.
    width = min(len(s) for s in ids)
    assert all(len({s[i] for s in ids}) > 1 for i in range(width)), ids
    await wire.assert_serving()


@pytest.mark.parametrize(
    "msg",
    [
        {"jsonrpc": "2.0", "id": "x", "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 2}}},
        {"jsonrpc": "2.0", "id": "x", "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ],
    ids=["tools/call", "ping", "notification"],
)
async def test_post_without_session_header_is_400(wire: Wire, msg: dict[str, Any]) -> None:
    await wire.initialize()  # a session exists, but the request does not name it
    assert_rpc_error(wire, await wire.post(msg), 400)
    await wire.assert_serving()


@pytest.mark.parametrize("sid", ["0" * 32, "no-such-session", "\x7e"])
async def test_unknown_session_is_404(wire: Wire, sid: str) -> None:
    live = await wire.initialize()
    unknown = Session(sid, LATEST)
    assert_rpc_error(wire, await wire.post(wire.request("ping"), unknown), 404)
    assert_rpc_error(wire, await wire.post(wire.call_request("add", {"a": 1, "b": 1}), unknown), 404)
    assert_rpc_error(wire, await wire.get(unknown), 404)
    assert_rpc_error(wire, await wire.delete(unknown), 404)
    assert (await wire.ping(live)).status_code == 200
    await wire.assert_serving()


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}, 200, -32602),
        ({"protocolVersion": 2025, "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}, 200, -32602),
        # Not even a valid request envelope: rejected at the HTTP level (400), naming the request it could read.
        ("not an object", 400, INVALID_REQUEST),
    ],
    ids=["missing-version", "version-not-a-string", "params-not-an-object"],
)
async def test_failed_initialize_creates_no_session(params: Any, status: int, code: int) -> None:
    # With room for one session only, a failed initialize that left a session behind would make the good
    # initialize below get 503.
    async with served(max_sessions=1) as wire:
        for _ in range(3):
            msg = wire.request("initialize", params)
            resp = await wire.post(msg)
            if status == 400:
                assert resp.status_code == 400 and "mcp-session-id" not in resp.headers, resp.headers
                (body,) = wire.messages(resp)
                assert body["id"] == msg["id"] and body["error"]["code"] == code, body
                continue
            # A JSON-RPC error answering the request (it has an id): a normal 200 JSON answer, without session.
            assert resp.status_code == 200 and "mcp-session-id" not in resp.headers, resp.headers
            (body,) = wire.messages(resp)
            assert body["id"] == msg["id"] and body["error"]["code"] == code, body
        session = await wire.initialize()
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
        assert result["structuredContent"] == {"result": 3}
        # The one slot is now taken: the cap is real, so the failed attempts above really did not count.
        assert_rpc_error(wire, await wire.post(wire.init_request()), 503)


async def test_notification_and_client_response_are_202_without_body(wire: Wire) -> None:
    session = await wire.initialize()
    for msg in [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        # Responses to requests the server never sent are ignored, but still accepted at the HTTP level.
        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
        {"jsonrpc": "2.0", "id": 17, "error": {"code": -32601, "message": "Method not found"}},
    ]:
        resp = await wire.post(msg, session)
        assert_accepted(resp)
        assert "content-type" not in resp.headers
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


# =================================================================================================================
# MCP-Protocol-Version
# =================================================================================================================


@pytest.mark.parametrize("header_version", SUPPORTED_VERSIONS)
async def test_protocol_version_header_any_supported_version(wire: Wire, header_version: str) -> None:
    # Conformance 0.1.16 sends 2025-03-26 on sessions negotiated at 2025-11-25 (CHECKLIST §3.2, §5.4).
    session = await wire.initialize(LATEST)
    resp = await wire.post(wire.request("ping"), session, headers={"MCP-Protocol-Version": header_version})
    assert resp.status_code == 200, resp.text
    (msg,) = wire.messages(resp, session.version)
    assert msg["result"] == {}
    _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
    assert result["structuredContent"] == {"result": 3}


@pytest.mark.parametrize("header_version", ["2099-01-01", "2025-13-45", "latest", "2024-10-07"])
async def test_protocol_version_header_unsupported_is_400(wire: Wire, header_version: str) -> None:
    session = await wire.initialize()
    bad = {"MCP-Protocol-Version": header_version}
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers=bad), 400)
    assert_rpc_error(wire, await wire.get(session, headers=bad), 400)
    init = wire.init_request()
    assert_rpc_error(wire, await wire.post(init, headers=bad), 400)
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


async def test_protocol_version_header_absent_is_fine(wire: Wire) -> None:
    for version in HTTP_VERSIONS:
        session = await wire.initialize(version)
        bare = Session(session.id, "2025-03-26")  # `headers` of a 2025-03-26 session carry no version header
        assert "MCP-Protocol-Version" not in bare.headers
        resp = await wire.post(wire.call_request("add", {"a": 1, "b": 2}), bare)
        assert resp.status_code == 200
        (msg,) = wire.messages(resp, version)
        assert msg["result"]["structuredContent"] == {"result": 3}


# =================================================================================================================
# DELETE and other methods
# =================================================================================================================


def allow_set(resp: httpx2.Response) -> set[str]:
    return {m.strip() for m in resp.headers["allow"].split(",")}


async def test_delete_ends_session(wire: Wire) -> None:
    session = await wire.initialize()
    other = await wire.initialize()
    async with wire.open_get(session) as get:
        await get.until(lambda ev: len(ev) >= 1)
        resp = await wire.delete(session)
        assert resp.status_code == 200 and resp.content == b"", resp.text
        # The session's stream ends with it, cleanly.
        events = await get.to_end(timeout=5)
        assert all(e.is_priming for e in events), events
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session), 404)
    assert_rpc_error(wire, await wire.get(session), 404)
    assert_rpc_error(wire, await wire.delete(session), 404)
    # DELETE without a session header is a bad request, like any request that needs one.
    assert_rpc_error(wire, await wire.delete(None), 400)
    assert (await wire.ping(other)).status_code == 200
    await wire.assert_serving()


async def test_delete_disabled_is_405_with_allow() -> None:
    async with served(allow_delete=False) as wire:
        session = await wire.initialize()
        resp = await wire.delete(session)
        assert_rpc_error(wire, resp, 405)
        assert allow_set(resp) == {"GET", "POST"}
        # The session was not ended.
        assert (await wire.ping(session)).status_code == 200
        await wire.assert_serving()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_other_methods_are_405_with_allow(wire: Wire, method: str) -> None:
    session = await wire.initialize()
    resp = await wire.client.request(
        method, wire.url, headers={**POST_HEADERS, **session.headers}, content=json.dumps(wire.request("ping"))
    )
    assert_rpc_error(wire, resp, 405)
    assert allow_set(resp) == {"GET", "POST", "DELETE"}
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


# =================================================================================================================
# GET: the standalone stream
# =================================================================================================================


@pytest.mark.parametrize("accept", ["application/json", "text/html", "text/plain, application/json"])
async def test_get_without_event_stream_accept_is_406(wire: Wire, accept: str) -> None:
    session = await wire.initialize()
    assert_rpc_error(wire, await wire.get(session, headers={"Accept": accept}), 406)
    await wire.assert_serving()


async def test_get_without_session_is_400(wire: Wire) -> None:
    await wire.initialize()
    assert_rpc_error(wire, await wire.get(None), 400)
    await wire.assert_serving()


async def test_get_opens_standalone_stream_with_priming_event(wire: Wire) -> None:
    session = await wire.initialize(LATEST)
    async with wire.open_get(session) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["cache-control"] == "no-cache"
        (first,) = await resp.until(lambda ev: len(ev) >= 1)
        assert first.is_priming and first.retry == 1000, first
        assert first.stream_seq()[0] == 0  # stream 0 is the standalone stream
        # The session keeps serving POSTs while its GET stream is open.
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
        assert result["structuredContent"] == {"result": 3}


async def test_second_get_is_409_until_first_closes(wire: Wire) -> None:
    session = await wire.initialize()
    async with wire.open_get(session) as first:
        assert first.status_code == 200
        await first.until(lambda ev: len(ev) >= 1)
        assert_rpc_error(wire, await wire.get(session), 409)
    # The first stream's connection is closed: the server notices and frees the slot.
    deadline = time.monotonic() + 5
    while True:
        async with wire.open_get(session) as again:
            if again.status_code == 200:
                (ev,) = await again.until(lambda ev: len(ev) >= 1)
                assert ev.is_priming
                break
            await again.resp.aread()
            assert_rpc_error(wire, again.resp, 409)
        assert time.monotonic() < deadline, "the GET slot was not freed after the first stream closed"
        await asyncio.sleep(0.05)
    await wire.assert_serving()


# =================================================================================================================
# tools/call: JSON or SSE
# =================================================================================================================


async def test_plain_tool_call_is_answered_as_json(wire: Wire) -> None:
    session = await wire.initialize()
    resp, result, before = await wire.call(session, "add", {"a": 40, "b": 2})
    assert resp.headers["content-type"] == "application/json"
    assert before == [] and result["structuredContent"] == {"result": 42}


@pytest.mark.parametrize("version", HTTP_VERSIONS)
async def test_progress_call_is_answered_as_sse(wire: Wire, version: str) -> None:
    session = await wire.initialize(version)
    all_ids: list[str] = []
    streams = set()
    for token in ("tok", 7):
        msg = wire.call_request("progress", {"steps": 3}, progress_token=token)
        resp = await wire.post(msg, session)
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/event-stream"
        assert resp.headers["x-accel-buffering"] == "no"
        events = parse_sse(resp.text)
        assert all(e.id is not None for e in events), events
        ids = [e.stream_seq() for e in events]
        assert len({s for s, _ in ids}) == 1, "one POST, one stream"
        streams.add(ids[0][0])
        seqs = [q for _, q in ids]
        assert seqs == sorted(set(seqs)), seqs
        # A priming event (id, empty data) first on 2025-11-25 sessions; older clients choke on empty data.
        if version >= "2025-11-25":
            assert events[0].is_priming and events[0].retry == 1000, events[0]
            events = events[1:]
        assert not any(e.data == "" for e in events), events
        msgs = wire.sse_messages(events, version)
        *notes, final = msgs
        assert [n["method"] for n in notes] == ["notifications/progress"] * 3
        assert [n["params"]["progress"] for n in notes] == [1, 2, 3]
        assert all(n["params"]["progressToken"] == token for n in notes)  # same value, same JSON type
        assert final["id"] == msg["id"] and final["result"]["content"][0]["text"] == f"done {token!r}"
        all_ids += [e.id for e in parse_sse(resp.text) if e.id]
    assert len(all_ids) == len(set(all_ids)), "event ids must be unique within the session"
    assert len(streams) == 2 and 0 not in streams


@pytest.mark.parametrize("version", HTTP_VERSIONS)
async def test_json_response_mode_answers_json_and_streams_on_get(version: str) -> None:
    async with served(json_response=True) as wire:
        session = await wire.initialize(version)
        async with wire.open_get(session) as get:
            assert get.status_code == 200
            resp, result, before = await wire.call(session, "progress", {"steps": 3}, progress_token="t")
            assert resp.headers["content-type"] == "application/json" and before == []
            assert result["content"][0]["text"] == "done 't'"
            # The progress notifications could not ride on the JSON answer: they went to the GET stream.
            events = await get.until(lambda ev: sum(e.data != "" for e in ev) >= 3)
        if version >= "2025-11-25":
            assert events[0].is_priming
            events = events[1:]
        else:
            assert not any(e.data == "" for e in events), "no priming event before 2025-11-25"
        notes = wire.sse_messages(events, version)
        assert [(n["method"], n["params"]["progress"]) for n in notes] == [
            ("notifications/progress", i) for i in (1, 2, 3)
        ]
        assert all(e.stream_seq()[0] == 0 for e in events)
        await wire.assert_serving()


# =================================================================================================================
# Resumability (SEP-1699 polling): the server closes a POST's stream, the client resumes with GET + Last-Event-ID
# =================================================================================================================


async def start_reconnecting(wire: Wire, session: Session) -> tuple[dict[str, Any], list[SseEvent]]:
    """Calls `reconnecting`, whose handler closes its SSE stream early; returns the request and what the POST's
    stream carried before the server closed it."""
    msg = wire.call_request("reconnecting", {}, progress_token="r")
    resp = await wire.post(msg, session)
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/event-stream"
    events = parse_sse(resp.text)
    return msg, events


async def test_resume_after_server_closed_stream(wire: Wire) -> None:
    session = await wire.initialize(LATEST)
    msg, events = await start_reconnecting(wire, session)
    # The priming event and the first progress, then the connection ended without the result.
    assert len(events) == 2 and events[0].is_priming and events[0].retry == 1000, events
    (before,) = wire.sse_messages(events, session.version)
    assert before["method"] == "notifications/progress" and before["params"]["progress"] == 1
    stream, last_seq = events[-1].stream_seq()
    assert stream != 0 and events[0].stream_seq() == (stream, last_seq - 1)

    async with wire.open_get(session, {"Last-Event-ID": events[-1].id or ""}) as resumed:
        assert resumed.status_code == 200 and resumed.headers["content-type"] == "text/event-stream"
        missed = await resumed.to_end()  # the stream ends after the result
    # Only what came after the last id seen, of that stream, in order, and no second priming event.
    assert [e.stream_seq() for e in missed] == [(stream, last_seq + 1), (stream, last_seq + 2)], missed
    progress, final = wire.sse_messages(missed, session.version)
    assert progress["method"] == "notifications/progress" and progress["params"]["progress"] == 2
    assert final == {
        "jsonrpc": "2.0",
        "id": msg["id"],
        "result": {"content": [{"type": "text", "text": "finished after reconnect (closed=True)"}]},
    }
    # The session's own GET slot was not taken by the resumption.
    async with wire.open_get(session) as get:
        assert get.status_code == 200
    await wire.assert_serving()


async def test_last_event_id_of_other_stream_never_replays_this_one(wire: Wire) -> None:
    session = await wire.initialize(LATEST)
    # Another finished stream on the same session first.
    other_msg = wire.call_request("progress", {"steps": 2}, progress_token="p")
    other_resp = await wire.post(other_msg, session)
    other_events = parse_sse(other_resp.text)
    wire.sse_messages(other_events, session.version)
    other_stream = other_events[0].stream_seq()[0]

    msg, events = await start_reconnecting(wire, session)
    wire.sse_messages(events, session.version)
    stream = events[0].stream_seq()[0]
    assert stream != other_stream
    await asyncio.sleep(0.4)  # the handler has finished: its result waits in the parked stream's buffer

    # Resuming the other stream from its priming event replays that stream's events only.
    async with wire.open_get(session, {"Last-Event-ID": other_events[0].id or ""}) as resp:
        assert resp.status_code == 200
        replay = await resp.to_end()
    assert [e.id for e in replay] == [e.id for e in other_events[1:]]
    assert all(e.stream_seq()[0] == other_stream for e in replay)
    replayed = wire.sse_messages(replay, session.version)
    assert replayed[-1]["id"] == other_msg["id"]
    assert not any(m.get("id") == msg["id"] for m in replayed)

    # The standalone stream (id 0.x) does not hold them either.
    # Nothing was ever sent there (no GET was open, so not even a priming event): resuming it from the start
    # yields nothing within a while, in particular none of the request streams' events.
    async with wire.open_get(session, {"Last-Event-ID": "0.0"}) as resp:
        assert resp.status_code == 200
        with contextlib.suppress(asyncio.TimeoutError):
            await resp.until(lambda ev: len(ev) >= 1, timeout=0.5)
        assert resp.events == []

    # The parked stream still has everything it owes, not consumed by the other resumptions.
    async with wire.open_get(session, {"Last-Event-ID": events[-1].id or ""}) as resp:
        missed = await resp.to_end()
    assert [e.stream_seq()[0] for e in missed] == [stream, stream]
    assert wire.sse_messages(missed, session.version)[-1]["id"] == msg["id"]


@pytest.mark.parametrize(
    ("last_event_id", "status"),
    [("garbage", 400), ("1", 400), ("1.x", 400), ("-1.2", 400), ("999.1", 404), ("1.999", 404)],
)
async def test_bad_last_event_id(wire: Wire, last_event_id: str, status: int) -> None:
    session = await wire.initialize(LATEST)
    _, events = await start_reconnecting(wire, session)  # stream 1 exists and can be resumed
    wire.sse_messages(events, session.version)
    assert events[0].stream_seq()[0] == 1
    assert_rpc_error(wire, await wire.get(session, {"Last-Event-ID": last_event_id}), status)
    async with wire.open_get(session, {"Last-Event-ID": events[-1].id or ""}) as resp:
        assert resp.status_code == 200
        wire.sse_messages(await resp.to_end(), session.version)
    await wire.assert_serving()


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
async def test_close_stream_before_2025_11_25_keeps_result_reachable(wire: Wire, version: str) -> None:
    session = await wire.initialize(version)
    msg = wire.call_request("reconnecting", {})  # no progress token: the handler sends nothing before closing
    resp = await wire.post(msg, session)
    assert resp.status_code == 200
    msgs = wire.messages(resp, version)
    if any(m.get("id") == msg["id"] for m in msgs):
        return  # the server kept the stream open: fine
    # Otherwise SEP-1699 allows closing the connection only after an event id was sent.
    events = parse_sse(resp.text)
    assert events and events[-1].id, f"stream closed with no event id to resume from: {resp.text!r}"
    async with wire.open_get(session, {"Last-Event-ID": events[-1].id}) as resumed:
        missed = wire.sse_messages(await resumed.to_end(), version)
    assert missed[-1]["id"] == msg["id"]


# =================================================================================================================
# Host / Origin (DNS rebinding protection) and path
# =================================================================================================================


@pytest.mark.parametrize(
    "host", ["evil.example.com", "evil.example.com:80", "127.0.0.2.nip.io", "localhost.evil.example.com"]
)
async def test_foreign_host_is_403(wire: Wire, host: str) -> None:
    session = await wire.initialize()
    init = wire.init_request()
    assert_rpc_error(wire, await wire.post(init, headers={"Host": host}), 403)
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers={"Host": host}), 403)
    assert_rpc_error(wire, await wire.get(session, headers={"Host": host}), 403)
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


@pytest.mark.parametrize(
    "origin", ["http://evil.example.com", "null", "http://127.0.0.1.evil.example.com", "http://localhost:1"]
)
async def test_foreign_origin_is_403(wire: Wire, origin: str) -> None:
    session = await wire.initialize()
    init = wire.init_request()
    assert_rpc_error(wire, await wire.post(init, headers={"Origin": origin}), 403)
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers={"Origin": origin}), 403)
    assert_rpc_error(wire, await wire.delete(session, headers={"Origin": origin}), 403)
    assert (await wire.ping(session)).status_code == 200  # the refused DELETE did not end it
    await wire.assert_serving()


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:{port}", "http://127.0.0.1:{port}"),
        ("127.0.0.1:{port}", None),
        ("LOCALHOST:{port}", "http://localhost:{port}"),
    ],
)
async def test_loopback_host_and_origin_accepted(
    wire: Wire, http_server: HttpServerProcess, host: str, origin: str | None
) -> None:
    headers = {"Host": host.format(port=http_server.port)}
    if origin:
        headers["Origin"] = origin.format(port=http_server.port)
    session = await wire.initialize(headers=headers)
    resp = await wire.post(wire.call_request("add", {"a": 1, "b": 2}), session, headers=headers)
    assert resp.status_code == 200
    assert wire.messages(resp)[0]["result"]["structuredContent"] == {"result": 3}


async def test_custom_allowed_hosts_and_origins() -> None:
    async with served(allowed_hosts=["mcp.example.test"], allowed_origins=["https://app.example.test"]) as wire:
        port = port_of(wire.url)
        ok = {"Host": "mcp.example.test", "Origin": "https://app.example.test"}
        wire.client.headers.update({"Host": "mcp.example.test"})
        session = await wire.initialize(headers=ok)
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})  # no Origin (not a browser): fine
        assert result["structuredContent"] == {"result": 3}
        # The custom lists replace the loopback defaults.
        for headers in [
            {"Host": f"127.0.0.1:{port}"},
            {"Host": "mcp.example.test", "Origin": "http://mcp.example.test"},
            {"Host": "mcp.example.test", "Origin": f"http://127.0.0.1:{port}"},
        ]:
            assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers=headers), 403)
        assert (await wire.post(wire.request("ping"), session, headers=ok)).status_code == 200


@pytest.mark.parametrize("path", ["/", "/mcp/", "/MCP", "/other", "/mcp/extra", "/mcpx"])
async def test_other_path_is_404(wire: Wire, path: str) -> None:
    session = await wire.initialize()
    url = httpx2.URL(wire.url).copy_with(path=path)
    assert_rpc_error(wire, await wire.post(wire.init_request(), url=url), 404)
    resp = await wire.client.get(url, headers={**SSE_HEADERS, **session.headers})
    assert_rpc_error(wire, resp, 404)
    # A query string is not part of the path.
    resp = await wire.post(wire.request("ping"), session, url=wire.url + "?x=1")
    assert resp.status_code == 200 and wire.messages(resp)[0]["result"] == {}
    await wire.assert_serving()


# =================================================================================================================
# Limits: session cap, idle TTL, in-flight cap
# =================================================================================================================


async def test_session_cap_is_503_until_one_ends() -> None:
    async with served(max_sessions=3) as wire:
        sessions = [await wire.initialize() for _ in range(3)]
        init = wire.init_request()
        assert_rpc_error(wire, await wire.post(init), 503)
        for s in sessions:  # the existing sessions are unaffected
            assert (await wire.ping(s)).status_code == 200
        assert (await wire.delete(sessions[0])).status_code == 200
        await wire.assert_serving()  # there is room again ...
        init = wire.init_request()
        assert_rpc_error(wire, await wire.post(init), 503)  # ... for one


async def test_idle_session_expires_but_busy_one_does_not() -> None:
    # Two slots: whether an expired session still counts can be read from the 503 without touching it (any
    # successful request on a session resets its idle clock).
    async with served(session_idle_timeout=0.3, max_sessions=2) as wire:
        idle = await wire.initialize()
        busy = await wire.initialize()
        call = asyncio.create_task(wire.call(busy, "blocking_sleep", {"seconds": 1.5}))
        await asyncio.sleep(1.0)
        # `idle` has been gone for a while, `busy` (idle clock 1 s old, but a call in flight) is not.
        await wire.initialize()
        init = wire.init_request()
        assert_rpc_error(wire, await wire.post(init), 503)
        _, result, _ = await call
        assert result["content"][0]["text"] == "slept"
        assert_rpc_error(wire, await wire.post(wire.request("ping"), idle), 404)


@pytest.mark.parametrize("activity", ["call", "get"])
async def test_idle_clock_starts_after_activity_ends(activity: str) -> None:
    async with served(session_idle_timeout=0.5) as wire:
        session = await wire.initialize()
        if activity == "call":
            await wire.call(session, "blocking_sleep", {"seconds": 1.2})
        else:
            async with wire.open_get(session) as get:
                await get.until(lambda ev: len(ev) >= 1)
                await asyncio.sleep(1.2)
        await asyncio.sleep(0.3)  # well within the 0.5 s timeout since the session was last busy
        resp = await wire.ping(session)
        assert resp.status_code == 200, f"session expired ({resp.status_code}) 0.3 s after its {activity} ended"


async def test_in_flight_cap_applies_back_pressure() -> None:
    async with served(max_in_flight_per_session=2) as wire:
        session = await wire.initialize()
        start = time.monotonic()

        async def timed_call() -> float:
            _, result, _ = await wire.call(session, "blocking_sleep", {"seconds": 0.5})
            assert result["content"][0]["text"] == "slept"
            return time.monotonic() - start

        done = sorted(await asyncio.gather(*(timed_call() for _ in range(3))))
        # Two ran at once; the third waited for a slot (and was not refused).
        assert done[1] < 0.95, done
        assert done[2] >= 0.95, done
        await wire.assert_serving()


async def test_cancellation_passes_the_in_flight_cap() -> None:
    async with served(max_in_flight_per_session=1) as wire:
        session = await wire.initialize()
        msg = wire.call_request("blocking_sleep", {"seconds": 2.0})
        call = asyncio.create_task(wire.post(msg, session))
        await asyncio.sleep(0.3)
        cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": msg["id"]}}
        start = time.monotonic()
        resp = await wire.post(cancel, session)
        waited = time.monotonic() - start
        await call
        assert_accepted(resp)
        assert waited < 0.5, f"notifications/cancelled waited {waited:.2f} s for the call it cancels"


# =================================================================================================================
# Graceful shutdown
# =================================================================================================================


async def test_sigterm_drains_running_calls() -> None:
    server = HttpServerProcess()
    try:
        async with wire_to(server.url) as wire:
            session = await wire.initialize()
            async with wire.open_get(session) as get:
                await get.until(lambda ev: len(ev) >= 1)
                call = asyncio.create_task(wire.call(session, "blocking_sleep", {"seconds": 1.0}))
                await asyncio.sleep(0.3)
                stopped_at = time.monotonic()
                server.proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.1)
                # New work is refused while the running call finishes: 503, or no connection at all.
                for _ in range(3):
                    try:
                        resp = await wire.post(wire.request("ping"), session)
                    except (httpx2.NetworkError, httpx2.RemoteProtocolError):
                        pass
                    else:
                        assert_rpc_error(wire, resp, 503)
                    await asyncio.sleep(0.05)
                _, result, _ = await call
                assert result["content"][0]["text"] == "slept"
                # The GET stream ends cleanly: a complete chunked body (httpx raises on a truncated one).
                events = await get.to_end(timeout=5)
                assert all(e.is_priming for e in events), events
            code = await asyncio.to_thread(server.proc.wait, 10)
            assert code == 0
            assert time.monotonic() - stopped_at < 5
    finally:
        stderr = server.stop().decode()
    assert "Traceback" not in stderr, stderr


# A tool that streams over a while: progress, a pause, more progress, the result.
streaming = Server("streaming", "1.0.0")


@streaming.tool
async def slow_progress(ctx: Context) -> str:
    """Progress, a pause, more progress, then the result."""
    await ctx.report_progress(1, 2, "first half")
    await asyncio.sleep(0.8)
    await ctx.report_progress(2, 2, "second half")
    return "finished"


async def test_shutdown_drains_a_streaming_call() -> None:
    """The in-process form of the drain (leaving `http_server`), with the running call answering over SSE."""
    stop = asyncio.Event()
    url_ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def serve() -> None:
        async with streaming.http_server("127.0.0.1", 0, "/mcp", shutdown_timeout=5.0) as url:
            url_ready.set_result(url)
            await stop.wait()

    server = asyncio.create_task(serve())
    url = await asyncio.wait_for(url_ready, 10)
    async with wire_to(url) as wire:
        session = await wire.initialize()
        msg = wire.call_request("slow_progress", progress_token="s")
        wire.note_sent(msg)
        headers = {**POST_HEADERS, **session.headers}
        async with wire.client.stream("POST", url, headers=headers, content=json.dumps(msg)) as resp:
            assert resp.headers["content-type"] == "text/event-stream"
            stream = SseResponse(resp)
            await stream.until(lambda ev: len(ev) >= 2)  # priming, first progress
            stop.set()
            await asyncio.sleep(0.1)
            try:
                refused = await wire.post(wire.request("ping"), session)
            except (httpx2.NetworkError, httpx2.RemoteProtocolError):
                pass  # the listener is closed already
            else:
                assert_rpc_error(wire, refused, 503)
            events = await stream.to_end(timeout=5)
        *_, progress, final = wire.sse_messages(events, session.version)
        assert progress["params"]["progress"] == 2
        assert final["id"] == msg["id"] and final["result"]["content"][0]["text"] == "finished"
    await asyncio.wait_for(server, 5)


def test_accept_with_q_zero_is_not_acceptable(http_server: HttpServerProcess) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream;q=0"}
    with httpx2.Client(timeout=10) as client:
        refused = client.post(http_server.url, json=init, headers=headers)
        assert refused.status_code == 406
        headers["Accept"] = "application/json;q=0.5, text/event-stream;q=1"
        assert client.post(http_server.url, json=init, headers=headers).status_code == 200


def test_malformed_initialize_says_what_is_wrong(http_server: HttpServerProcess) -> None:
    bad = {"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": "not an object"}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    with httpx2.Client(timeout=10) as client:
        reply = client.post(http_server.url, json=bad, headers=headers)
    assert reply.status_code == 400
    assert "mcp-session-id" not in reply.headers
    body = reply.json()
    assert body["id"] == 9 and body["error"]["code"] == -32600
    assert "params must be an object" in body["error"]["message"]
    check_server_message("2025-11-25", body, {9: "initialize"})
