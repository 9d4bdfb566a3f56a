"""Read timeouts: a request head trickled byte by byte (slowloris), a body shorter than its Content-Length and a
chunked body that never ends are all cut off within their timeout, while other clients' calls keep succeeding."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

import pytest

from tests.support.inprocess import served
from tests.support.raw import parse_raw_response, request_bytes
from tests.support.wire import POST_HEADERS, Session, Wire, port_of

HEADER_TIMEOUT = 0.6
BODY_TIMEOUT = 0.6
# How late the server may be on top of a timeout on this shared 2-core machine.
SLACK = 1.5


class Steady:
    """A well-behaved client calling a tool in a loop on its own session while the bad ones misbehave."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.ok = 0
        self.errors: list[str] = []
        self.stop = asyncio.Event()

    async def run(self, session: Session) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                _, result, _ = await self.wire.call(session, "add", {"a": i, "b": 1})
                assert result["structuredContent"] == {"result": i + 1}, result
                self.ok += 1
            except Exception as exc:  # every failure of the steady client is a finding
                self.errors.append(repr(exc))
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def steady_client(wire: Wire) -> AsyncIterator[Steady]:
    steady = Steady(wire)
    task = asyncio.create_task(steady.run(await wire.initialize()))
    try:
        yield steady
    finally:
        steady.stop.set()
        await asyncio.wait_for(task, 15)
    assert steady.errors == [], steady.errors[:5]
    assert steady.ok >= 10, steady.ok


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes the connection, which must happen `within` seconds."""
    return await asyncio.wait_for(reader.read(), within)


async def test_slowloris_heads_are_cut_off_while_others_are_served() -> None:
    async with served(header_read_timeout=HEADER_TIMEOUT) as wire, steady_client(wire) as steady:
        port = port_of(wire.url)
        head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n".encode()
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(300)]
        started = time.monotonic()

        async def trickle(writer: asyncio.StreamWriter) -> None:
            # One byte every 50 ms: the head would take far longer than the timeout to arrive.
            with contextlib.suppress(ConnectionError):
                for byte in head:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    await asyncio.sleep(0.05)

        trickling = [asyncio.create_task(trickle(w)) for _, w in conns]
        try:
            got = await asyncio.gather(*(closed_by_server(r, HEADER_TIMEOUT + SLACK + 2) for r, _ in conns))
        finally:
            for task in trickling:
                task.cancel()
            for _, writer in conns:
                writer.close()
        elapsed = time.monotonic() - started
        # Every connection was closed without an answer (its request was never read) and well before its head
        # could have been complete (over 4 s at this pace).
        assert all(data == b"" for data in got), {data[:40] for data in got}
        assert elapsed < HEADER_TIMEOUT + SLACK + 2, elapsed
        assert steady.ok > 0


async def test_idle_keep_alive_connection_is_closed() -> None:
    async with served(header_read_timeout=HEADER_TIMEOUT) as wire:
        session = await wire.initialize()
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(wire.url))
        try:
            writer.write(request_bytes(port_of(wire.url), "POST", session, wire.request("ping")))
            await writer.drain()
            first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert first.startswith(b"HTTP/1.1 200"), first
            # The connection now waits for the next head; nothing comes, so it ends within the timeout.
            started = time.monotonic()
            await closed_by_server(reader, HEADER_TIMEOUT + SLACK)
            assert time.monotonic() - started >= HEADER_TIMEOUT * 0.8
        finally:
            writer.close()


def post_head(port: int, session: Session, extra: str) -> bytes:
    head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nMcp-Session-Id: {session.id}\r\n"
    head += f"MCP-Protocol-Version: {session.version}\r\nAccept: {POST_HEADERS['Accept']}\r\n"
    return (head + f"Content-Type: application/json\r\n{extra}\r\n").encode()


@pytest.mark.parametrize("kind", ["short", "chunked"])
async def test_incomplete_bodies_get_408_within_the_timeout(kind: str) -> None:
    async with served(body_read_timeout=BODY_TIMEOUT) as wire, steady_client(wire) as steady:
        port = port_of(wire.url)
        session = await wire.initialize()
        body = json.dumps(wire.request("ping")).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        feeding: asyncio.Task[None] | None = None
        try:
            started = time.monotonic()
            if kind == "short":
                # The head promises more than is ever sent.
                writer.write(post_head(port, session, f"Content-Length: {len(body) + 100}\r\n") + body)
            else:
                writer.write(post_head(port, session, "Transfer-Encoding: chunked\r\n"))

                async def feed() -> None:
                    # A chunk of whitespace every 100 ms, and never the last chunk.
                    with contextlib.suppress(ConnectionError):
                        while True:
                            writer.write(b"1\r\n \r\n")
                            await writer.drain()
                            await asyncio.sleep(0.1)

                feeding = asyncio.create_task(feed())
            await writer.drain()
            data = await closed_by_server(reader, BODY_TIMEOUT + SLACK)
            elapsed = time.monotonic() - started
        finally:
            if feeding is not None:
                feeding.cancel()
            writer.close()
        resp = parse_raw_response(data)
        assert resp.status == 408, data
        assert resp.headers["connection"] == "close"
        assert resp.headers["content-type"] == "application/json"
        error = json.loads(resp.body)
        assert error["jsonrpc"] == "2.0" and error["error"]["code"] == -32600, error
        assert "Request Timeout" in error["error"]["message"], error
        assert BODY_TIMEOUT * 0.8 <= elapsed < BODY_TIMEOUT + SLACK, elapsed
        assert steady.ok > 0


async def test_a_slow_but_complete_body_within_the_timeout_is_served() -> None:
    async with served(body_read_timeout=2.0) as wire:
        port = port_of(wire.url)
        session = await wire.initialize()
        body = json.dumps(wire.call_request("add", {"a": 1, "b": 2})).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(post_head(port, session, f"Content-Length: {len(body)}\r\nConnection: close\r\n"))
            for i in range(0, len(body), 20):
                writer.write(body[i : i + 20])
                await writer.drain()
                await asyncio.sleep(0.05)
            resp = parse_raw_response(await asyncio.wait_for(reader.read(), 5))
        finally:
            writer.close()
        assert resp.status == 200, resp
        assert json.loads(resp.body)["result"]["structuredContent"] == {"result": 3}


async def test_timeouts_must_be_positive_or_none() -> None:
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="header_read_timeout must be a positive number"):
            async with served(header_read_timeout=bad):
                pass
    # None disables the timeout: a body that never ends is still waited for.
    async with served(body_read_timeout=None) as wire:
        port = port_of(wire.url)
        session = await wire.initialize()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(post_head(port, session, "Content-Length: 50\r\n") + b"{")
            await writer.drain()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(1), 1.0)
        finally:
            writer.close()
