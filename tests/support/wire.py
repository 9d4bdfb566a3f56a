"""A raw Streamable HTTP client for tests of the transport rules: `Wire` sends exactly the requests a test
builds, and every JSON-RPC message it receives is kept with its session's negotiated version and validated against
the official schema when the test ends (`Wire.check`, done by `wire_to`)."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from tests.support.schema import check_server_message
from tests.support.sse import SseEvent, SseResponse, parse_sse

ACCEPT_BOTH = "application/json, text/event-stream"
POST_HEADERS = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}
SSE_HEADERS = {"Accept": "text/event-stream"}
LATEST = "2025-11-25"
# Versions ferromcp negotiates (rust/core/src/protocol.rs ProtocolVersion::LEGACY).
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
# The versions that have Streamable HTTP (2024-11-05 had HTTP+SSE).
HTTP_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
# What the server answers with for every HTTP-level rejection (service.rs `rpc_error`).
INVALID_REQUEST = -32600
PARSE_ERROR = -32700
TIMEOUT = httpx2.Timeout(15.0)


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


def sent_request_id(resp: httpx2.Response) -> Any:
    """The id of the one JSON-RPC request a POST carried (None for anything else, or a body too large to read)."""
    if resp.request.method != "POST" or resp.status_code == 413:
        return None
    try:
        sent = json.loads(resp.request.content)
    except ValueError:
        return None
    if not (isinstance(sent, dict) and "method" in sent):
        return None
    request_id = sent.get("id")
    return request_id if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) else None


def assert_rpc_error(wire: Wire, resp: httpx2.Response, status: int, code: int = INVALID_REQUEST) -> dict[str, Any]:
    """An HTTP-level rejection: `status`, a JSON body holding one JSON-RPC error, and no session. The error answers
    the request's id when a POST to the endpoint carried a readable request (clients match errors by it), and has
    no id otherwise."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"] == "application/json"
    assert "mcp-session-id" not in resp.headers
    (body,) = wire.messages(resp)
    # Only the MCP endpoint reads what is posted to it.
    at_endpoint = resp.request.url.path == httpx2.URL(wire.url).path
    expected_id = sent_request_id(resp) if at_endpoint else None
    if expected_id is None:
        assert set(body) == {"jsonrpc", "error"}, body
    else:
        assert set(body) == {"jsonrpc", "error", "id"} and body["id"] == expected_id, (expected_id, body)
    assert body["jsonrpc"] == "2.0", body
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


def port_of(url: str) -> int:
    return httpx2.URL(url).port or 80
