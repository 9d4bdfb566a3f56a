"""Raw HTTP/1.1 keep-alive clients: a blocking one for sequential calls, an asyncio protocol for the concurrent
workloads (requests may be pipelined), and how the asyncio ones are run and bounded."""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar, cast

from .http_wire import HOST, Requests, Response, check_accepted, check_session_opened, parse_response

# Slack on top of a workload's own budget before its watchdog gives up on a server that stopped answering.
WATCHDOG_GRACE_S = 30.0

T = TypeVar("T")


class SyncConnection:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int, timeout_s: float = 10.0) -> None:
        self._sock = socket.create_connection((HOST, port), timeout=timeout_s)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()

    def request(self, raw: bytes) -> Response:
        self._sock.sendall(raw)
        while True:
            parsed = parse_response(self._buf) if self._buf else None
            if parsed is not None:
                response, used = parsed
                del self._buf[:used]
                return response
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buf += chunk

    def close(self) -> None:
        self._sock.close()


class AsyncConnection(asyncio.Protocol):
    """One keep-alive connection; requests may be pipelined, responses come back in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._waiting: collections.deque[asyncio.Future[Response]] = collections.deque()
        self._transport: asyncio.Transport | None = None
        self._lost: Exception | None = None

    @classmethod
    async def open(cls, port: int) -> AsyncConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(cls, HOST, port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._waiting:
            try:
                parsed = parse_response(self._buf)
            except Exception as exc:
                self._fail(exc)
                return
            if parsed is None:
                return
            response, used = parsed
            del self._buf[:used]
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("server closed the connection"))

    def _fail(self, exc: Exception) -> None:
        self._lost = exc
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(exc)
        if self._transport is not None:
            self._transport.close()

    def send(self, raw: bytes) -> asyncio.Future[Response]:
        return self.send_batch(raw, 1)[0]

    def send_batch(self, raw: bytes, count: int) -> list[asyncio.Future[Response]]:
        """Writes `raw`, which holds `count` requests, at once; one future per response, in order."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Response]] = [loop.create_future() for _ in range(count)]
        if self._lost is not None or self._transport is None:
            for future in futures:
                future.set_exception(self._lost or ConnectionError("not connected"))
            return futures
        self._waiting.extend(futures)
        self._transport.write(raw)
        return futures

    @property
    def lost(self) -> bool:
        return self._lost is not None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_session_async(conn: AsyncConnection, requests: Requests) -> bytes:
    session_id = check_session_opened(await conn.send(requests.initialize))
    check_accepted(await conn.send(requests.initialized(session_id)))
    return session_id


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # the stdlib loop works, at several times the generator's cost per request
        return asyncio.run(coro)
    return uvloop.run(coro)


async def bounded(awaitable: Awaitable[T], budget_s: float) -> T:
    """The whole workload under one watchdog: cheaper than a timeout per request, and just as bounded."""
    return await asyncio.wait_for(awaitable, budget_s + WATCHDOG_GRACE_S)
