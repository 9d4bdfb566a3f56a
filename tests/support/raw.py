"""Raw HTTP/1.1 over a socket, for requests httpx will not send: a whole exchange read to the server's close
(`raw_exchange`), or a connection to be abandoned without a clean close (`RawClient`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

from tests.support.wire import POST_HEADERS, Session


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


class RawClient:
    """One raw HTTP/1.1 connection, to be abandoned without the courtesy of a clean close."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_head(self) -> bytes:
        """The status line and headers, plus whatever body bytes arrive with them."""
        return await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)

    def vanish(self, reset: bool) -> None:
        """Disappear: a TCP reset (SO_LINGER 0), as a killed process or a dropped network would, or a bare FIN."""
        sock = self.writer.get_extra_info("socket")
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


def request_bytes(port: int, method: str, session: Session, body: Any = None, *, accept: str = "") -> bytes:
    head = f"{method} /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nMcp-Session-Id: {session.id}\r\n"
    head += f"MCP-Protocol-Version: {session.version}\r\n"
    if body is None:
        return (head + f"Accept: {accept or 'text/event-stream'}\r\n\r\n").encode()
    data = json.dumps(body).encode()
    head += f"Accept: {POST_HEADERS['Accept']}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data
