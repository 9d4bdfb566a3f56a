"""The HTTP load tests' ferromcp server: two trivial tools, so the numbers measure the runtime, not the handlers,
and one that closes its SSE stream midway, for the resumption workload.

    python loadtests/servers/ferro_http.py [PORT] [--json-response] [--max-sessions N] [--io-threads N]
                                           [--workers N] [--redis-url redis://127.0.0.1:PORT/0]

Listens on 127.0.0.1 only, MCP Streamable HTTP at /mcp. With --workers N a supervisor runs this command line again
as N worker processes sharing the port (SO_REUSEPORT); with --redis-url the workers share legacy sessions, the
notification bus and SSE stream events through that Redis.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from ferromcp import Context, Server

server = Server("bench")


@server.tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def resumable(ctx: Context, pause_ms: int = 5) -> str:
    """Reports progress, closes its SSE stream (the client resumes with GET + Last-Event-ID), then after a pause
    reports again and returns."""
    await ctx.report_progress(1, 2, "before the stream closes")
    closed = ctx.close_stream()
    await asyncio.sleep(pause_ms / 1000)
    await ctx.report_progress(2, 2, "while the client was away")
    return f"resumed (closed={closed})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", nargs="?", type=int, default=8000)
    # Plain JSON for every response, even when a handler streams; without the flag ferromcp already answers plain
    # tool calls as JSON and only switches to SSE when a handler emits progress or logs.
    parser.add_argument("--json-response", action="store_true")
    # ferromcp, like the SDK, refuses new sessions (503) past 10,000 open ones; the memory run needs a bit more room.
    parser.add_argument("--max-sessions", type=int, default=None, help="the session cap (default: ferromcp's)")
    parser.add_argument("--io-threads", type=int, default=None, help="tokio I/O threads (default: ferromcp's)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (default 1)")
    parser.add_argument("--redis-url", default=None, help="share sessions and streams through this Redis")
    args = parser.parse_args()
    options: dict[str, Any] = {}
    if args.json_response:
        options["json_response"] = True
    if args.max_sessions is not None:
        options["max_sessions"] = args.max_sessions
    if args.io_threads is not None:
        options["io_threads"] = args.io_threads
    if args.redis_url is not None:
        options["redis_url"] = args.redis_url
    server.run("http", host="127.0.0.1", port=args.port, path="/mcp", workers=args.workers, **options)


if __name__ == "__main__":
    main()
