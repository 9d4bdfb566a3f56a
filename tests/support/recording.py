"""An httpx transport that passes requests through and records every exchange, so every message a server sent
over HTTP (JSON bodies and SSE events alike) can be validated against the official schema afterwards."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from tests.support.schema import check_server_message, validate


class _RecordingStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, chunks: list[bytes]) -> None:
        self._inner = inner
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._chunks.append(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Passes requests through and keeps each exchange: request body, status, content type, response bytes."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self.exchanges: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        response = await self._inner.handle_async_request(request)
        record: dict[str, Any] = {
            "method": request.method,
            "request": body,
            "status": response.status_code,
            "headers": dict(response.headers),
            "chunks": [],
        }
        self.exchanges.append(record)
        response.stream = _RecordingStream(response.stream, record["chunks"])
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def server_messages(self) -> list[tuple[dict[str, Any], Any]]:
        """(exchange, message) for every JSON-RPC message the server sent."""
        out: list[tuple[dict[str, Any], Any]] = []
        for ex in self.exchanges:
            data = b"".join(ex["chunks"])
            if not data:
                continue
            if ex["headers"].get("content-type", "").startswith("text/event-stream"):
                for event in data.decode().split("\n\n"):
                    payload = "".join(line[6:] for line in event.split("\n") if line.startswith("data: "))
                    if payload.strip():
                        out.append((ex, json.loads(payload)))
            else:
                out.append((ex, json.loads(data)))
        return out

    def check_all(self, version: str = "2025-11-25") -> list[Any]:
        """Validates every message the server sent against the schema of the negotiated (or given) version."""
        methods: dict[Any, str] = {}
        for ex in self.exchanges:
            if ex["request"]:
                sent = json.loads(ex["request"])
                for item in sent if isinstance(sent, list) else [sent]:
                    if "method" in item and "id" in item:
                        methods[item["id"]] = item["method"]
        messages = []
        for _, msg in self.server_messages():
            if isinstance(msg, dict) and methods.get(msg.get("id")) == "initialize" and "result" in msg:
                version = msg["result"]["protocolVersion"]
            # Requests the server sent to the client: validate by their own method.
            if isinstance(msg, dict) and "method" in msg and "id" in msg:
                validate(version, "JSONRPCRequest", msg)
                messages.append(msg)
                continue
            if isinstance(msg, dict) and "result" in msg and msg.get("id") not in methods:
                continue  # the client's own answers are recorded as request bodies, not here
            check_server_message(version, msg, methods)
            messages.append(msg)
        return messages
