"""The HTTP load tests' ferromcp server: two trivial tools, so the numbers measure the runtime, not the handlers.

    python loadtests/servers/ferro_http.py [PORT] [--json-response] [--max-sessions N]

Listens on 127.0.0.1 only, MCP Streamable HTTP at /mcp.
"""

from __future__ import annotations

import argparse
from typing import Any

from ferromcp import Server

server = Server("bench")


@server.tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", nargs="?", type=int, default=8000)
    # Plain JSON for every response, even when a handler streams; without the flag ferromcp already answers plain
    # tool calls as JSON and only switches to SSE when a handler emits progress or logs.
    parser.add_argument("--json-response", action="store_true")
    # ferromcp, like the SDK, refuses new sessions (503) past 10,000 open ones; the memory run needs a bit more room.
    parser.add_argument("--max-sessions", type=int, default=None, help="the session cap (default: ferromcp's)")
    parser.add_argument("--io-threads", type=int, default=None, help="tokio I/O threads (default: ferromcp's)")
    args = parser.parse_args()
    options: dict[str, Any] = {}
    if args.json_response:
        options["json_response"] = True
    if args.max_sessions is not None:
        options["max_sessions"] = args.max_sessions
    if args.io_threads is not None:
        options["io_threads"] = args.io_threads
    server.run("http", host="127.0.0.1", port=args.port, path="/mcp", **options)


if __name__ == "__main__":
    main()
