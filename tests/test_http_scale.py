"""Streamable HTTP under load: a thousand concurrent sessions, and clients that vanish mid-stream.

Both run against the `http_server` subprocess (tests/servers/everything.py over HTTP on 127.0.0.1), so the
server's own file descriptors and memory can be read from /proc. Everything is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import httpx2
import pytest

from tests.support.procs import HttpServerProcess, cpu_seconds, open_fds, rss_kib
from tests.support.raw import RawClient, request_bytes
from tests.support.wire import LATEST, POST_HEADERS, Session, Wire, assert_accepted, wire_to

T = TypeVar("T")
R = TypeVar("R")

N_SESSIONS = 1000
WORKERS = 50  # concurrent requests, and so at most this many connections
TIME_BUDGET = 60.0


async def bounded(items: Iterable[T], fn: Callable[[T], Awaitable[R]], workers: int = WORKERS) -> list[R]:
    """fn over items with at most `workers` running at once; results in input order."""
    todo = list(enumerate(items))
    results: dict[int, R] = {}
    queue: asyncio.Queue[tuple[int, T]] = asyncio.Queue()
    for entry in todo:
        queue.put_nowait(entry)

    async def worker() -> None:
        while True:
            try:
                i, item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            results[i] = await fn(item)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return [results[i] for i in range(len(todo))]


# =================================================================================================================
# (a) a thousand sessions at once
# =================================================================================================================


async def test_thousand_concurrent_sessions(http_server: HttpServerProcess) -> None:
    start = time.monotonic()
    limits = httpx2.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS)
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), limits=limits) as client:
        wire = Wire(client, http_server.url)
        sessions = await bounded(range(N_SESSIONS), lambda _: wire.initialize())
        opened = time.monotonic() - start
        assert len({s.id for s in sessions}) == N_SESSIONS

        # All 1,000 are alive at once: each gets its own call, with arguments only it can answer.
        async def call(indexed: tuple[int, Session]) -> None:
            i, session = indexed
            _, result, _ = await wire.call(session, "add", {"a": i, "b": 2 * i})
            assert result["structuredContent"] == {"result": 3 * i}

        await bounded(enumerate(sessions), call)
        called = time.monotonic() - start

        async def delete(session: Session) -> None:
            resp = await client.delete(wire.url, headers=session.headers)
            assert resp.status_code == 200 and resp.content == b"", resp.text

        await bounded(sessions, delete)
        deleted = time.monotonic() - start

        # Gone: a sample of them answers 404, and a new session still works.
        for session in sessions[:: N_SESSIONS // 10]:
            resp = await client.post(wire.url, headers={**POST_HEADERS, **session.headers}, json=wire.request("ping"))
            assert resp.status_code == 404
        fresh = await wire.initialize()
        _, result, _ = await wire.call(fresh, "add", {"a": 1, "b": 2})
        assert result["structuredContent"] == {"result": 3}
    wire.check()
    elapsed = time.monotonic() - start
    timings = f"opened {opened:.1f} s, called {called:.1f} s, deleted {deleted:.1f} s"
    assert elapsed < TIME_BUDGET, timings
    print(f"\n{N_SESSIONS} sessions over {WORKERS} connections: {timings}, total {elapsed:.1f} s")


# =================================================================================================================
# (b) clients vanish mid-stream
# =================================================================================================================


@dataclass
class Steady:
    """A well-behaved client calling a tool in a loop on its own session and connection."""

    url: str
    ok: int = 0
    slowest: float = 0.0
    errors: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, ready: asyncio.Event) -> None:
        # One connection, so its server-side descriptor is part of the baseline.
        limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
        async with wire_to(self.url, limits=limits, timeout=httpx2.Timeout(10.0)) as wire:
            session = await wire.initialize()
            ready.set()
            i = 0
            while not self.stop.is_set():
                i += 1
                started = time.monotonic()
                try:
                    _, result, _ = await wire.call(session, "add", {"a": i, "b": 1})
                    assert result["structuredContent"] == {"result": i + 1}, result
                    self.ok += 1
                    self.slowest = max(self.slowest, time.monotonic() - started)
                except (AssertionError, httpx2.HTTPError) as exc:
                    self.errors.append(repr(exc))
                await asyncio.sleep(0.01)


async def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


VANISHING_PER_KIND = 4
REPETITIONS = 4
FD_SLACK = 2


async def vanish_round(
    wire: Wire, port: int, pid: int, round_no: int
) -> tuple[list[Session], list[tuple[Session, str]]]:
    """Opens streams of every kind and abandons them; returns the sessions used and the wait_forever calls left
    running."""
    sessions = await asyncio.gather(*(wire.initialize() for _ in range(3 * VANISHING_PER_KIND + 2)))
    clients: list[RawClient] = []
    running: list[tuple[Session, str]] = []

    async def opened(data: bytes, *, read: bool) -> None:
        client = await RawClient.connect(port)
        clients.append(client)
        client.send(data)
        if read:
            head = await client.read_head()
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b"text/event-stream" in head.lower(), head

    tasks: list[Awaitable[None]] = []
    for i in range(VANISHING_PER_KIND):
        get_s, forever_s, progress_s = sessions[3 * i : 3 * i + 3]
        # The standalone GET stream: it sends its priming event, then nothing (until a keep-alive, 15 s on).
        tasks.append(opened(request_bytes(port, "GET", get_s), read=i % 2 == 0))
        # A call that never ends on its own: its SSE stream stays open.
        call_id = f"forever-{round_no}-{i}"
        running.append((forever_s, call_id))
        body = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": {"name": "wait_forever"}}
        tasks.append(opened(request_bytes(port, "POST", forever_s, body), read=i % 2 == 0))
        # A stream with far more than a socket buffer's worth of events, never read.
        body = {
            "jsonrpc": "2.0",
            "id": f"progress-{round_no}-{i}",
            "method": "tools/call",
            "params": {"name": "progress", "arguments": {"steps": 5000}, "_meta": {"progressToken": i}},
        }
        tasks.append(opened(request_bytes(port, "POST", progress_s, body), read=False))
    # Half a request: the headers promise a body that never comes, or the headers themselves never end.
    ping = request_bytes(port, "POST", sessions[-1], {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    tasks.append(opened(ping[: ping.index(b"\r\n\r\n") + 4 + 5], read=False))
    tasks.append(opened(ping[: ping.index(b"\r\n") + 2], read=False))
    await asyncio.gather(*tasks)
    await asyncio.sleep(0.3)  # let the unread streams fill the socket buffers
    # Each raw client holds a server-side descriptor now; the caller checks they are all released later.
    assert open_fds(pid) >= len(clients) + 2, (open_fds(pid), len(clients))
    for n, client in enumerate(clients):
        client.vanish(reset=n % 2 == 0)
    return sessions, running


async def test_vanishing_clients_release_resources(http_server: HttpServerProcess) -> None:
    pid, port = http_server.proc.pid, http_server.port
    steady = Steady(http_server.url)
    ready = asyncio.Event()
    steady_task = asyncio.create_task(steady.run(ready))
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.sleep(0.2)
        baseline = open_fds(pid)
        rss: list[int] = []
        for round_no in range(REPETITIONS):
            async with wire_to(http_server.url) as wire:
                sessions, running = await vanish_round(wire, port, pid, round_no)
                # The sessions themselves survive their clients' vanishing: cancel the calls left running.
                for session, call_id in running:
                    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": call_id}}
                    assert_accepted(await wire.post(cancel, session))
                # The cancellations reached the handlers.
                probe = await wire.initialize()
                want = {call_id for _, call_id in running}

                async def all_cancelled(probe: Session = probe, want: set[str] = want) -> bool:
                    _, result, _ = await wire.call(probe, "cancelled_ids")
                    return want <= set(result["structuredContent"]["result"])

                deadline = time.monotonic() + 5
                while not await all_cancelled():
                    assert time.monotonic() < deadline, "wait_forever calls of vanished clients were not cancelled"
                    await asyncio.sleep(0.05)
                # Vanished clients never DELETE; their sessions would linger until the idle timeout (30 min).
                # Ending them here keeps that retention, which is by design, out of the memory measurement.
                for session in [*sessions, probe]:
                    resp = await wire.delete(session)
                    assert resp.status_code == 200, resp.text
            # Every connection of this round is gone (the raw ones abandoned, the Wire's closed): the server's
            # descriptors come back to where they were.
            back = await wait_for(lambda: open_fds(pid) <= baseline + FD_SLACK, timeout=5)
            assert back, f"round {round_no}: {open_fds(pid)} fds open, baseline {baseline}"
            rss.append(rss_kib(pid))
        steady.stop.set()
        await asyncio.wait_for(steady_task, 15)
        # Nothing is left spinning on a dead connection: the idle server uses (almost) no CPU.
        cpu_before = cpu_seconds(pid)
        await asyncio.sleep(1.0)
        idle_cpu = cpu_seconds(pid) - cpu_before
        assert idle_cpu < 0.2, f"idle server used {idle_cpu:.2f} s of CPU in 1 s"
    finally:
        steady.stop.set()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(steady_task, 15)

    assert steady.errors == [], steady.errors[:5]
    assert steady.ok > 20, steady.ok  # it really was calling throughout
    assert steady.slowest < 2.0, f"a call of the steady client took {steady.slowest:.2f} s"
    # Memory: the first round warms allocator and caches; after that, no steady growth (loose: 4 MiB).
    growth = rss[-1] - rss[1]
    assert growth < 4 * 1024, f"RSS grew {growth} KiB over rounds 2..{REPETITIONS}: {rss}"
    # And the server serves new sessions fine.
    async with wire_to(http_server.url) as wire:
        session = await wire.initialize(LATEST)
        _, result, _ = await wire.call(session, "add", {"a": 20, "b": 22})
        assert result["structuredContent"] == {"result": 42}
    print(
        f"\nfds baseline {baseline}, RSS per round (KiB) {rss}, steady calls {steady.ok} "
        f"(slowest {steady.slowest * 1000:.0f} ms), idle CPU {idle_cpu:.3f} s/s"
    )


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
async def test_vanished_get_frees_the_session_stream_slot(http_server: HttpServerProcess, reset: bool) -> None:
    """A GET stream's client that disappears releases the session's one GET slot (no 409 forever after)."""
    async with wire_to(http_server.url) as wire:
        session = await wire.initialize()
        client = await RawClient.connect(http_server.port)
        client.send(request_bytes(http_server.port, "GET", session))
        assert (await client.read_head()).startswith(b"HTTP/1.1 200")
        client.vanish(reset=reset)

        async def reopened() -> bool:
            async with wire.open_get(session) as get:
                if get.status_code == 409:
                    await get.resp.aread()
                    wire.messages(get.resp)
                    return False
                assert get.status_code == 200
                (priming,) = await get.until(lambda ev: len(ev) >= 1)
                assert priming.is_priming
                return True

        deadline = time.monotonic() + 5
        while not await reopened():
            assert time.monotonic() < deadline, "the vanished GET still holds the session's stream slot"
            await asyncio.sleep(0.05)
