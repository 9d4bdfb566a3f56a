"""Graceful shutdown: running calls are drained, new work is refused, open streams end cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import time

from ferromcp import Context, Server

from tests.support.procs import HttpServerProcess
from tests.support.sse import SseResponse
from tests.support.wire import POST_HEADERS, assert_rpc_error, wire_to


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
                # New work is refused while the running call finishes: 503 (on a fresh connection each time:
                # the 503 closes its connection), for an existing session and for a new one alike.
                for _ in range(3):
                    resp = await wire.post(wire.request("ping"), session)
                    assert_rpc_error(wire, resp, 503)
                    assert resp.headers["connection"] == "close"
                    await asyncio.sleep(0.05)
                async with wire_to(server.url) as newcomer:
                    assert_rpc_error(newcomer, await newcomer.post(newcomer.init_request()), 503)
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
            # The listener still accepts during the drain: new requests are answered 503, not refused.
            assert_rpc_error(wire, await wire.post(wire.request("ping"), session), 503)
            assert_rpc_error(wire, await wire.get(session), 503)
            async with wire_to(url) as newcomer:
                assert_rpc_error(newcomer, await newcomer.post(newcomer.init_request()), 503)
            events = await stream.to_end(timeout=5)
        *_, progress, final = wire.sse_messages(events, session.version)
        assert progress["params"]["progress"] == 2
        assert final["id"] == msg["id"] and final["result"]["content"][0]["text"] == "finished"
    await asyncio.wait_for(server, 5)
