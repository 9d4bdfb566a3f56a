"""The HTTP load tests' official-SDK server: the same two tools as ferro_http.py, on `MCPServer` over Streamable HTTP.

    python loadtests/servers/sdk_http.py [PORT]                    # SSE mode: each POST answered as text/event-stream
    python loadtests/servers/sdk_http.py [PORT] --json-response    # JSON mode: each POST answered as application/json
    python loadtests/servers/sdk_http.py [PORT] --max-sessions 20000

Listens on 127.0.0.1 only, MCP Streamable HTTP at /mcp.
"""

from __future__ import annotations

import argparse

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

# INFO (the default) turns on uvicorn's access log and the SDK's per-session log lines: one write per request,
# which would benchmark the logging rather than the runtime. ferromcp does not log per request either.
server = MCPServer("bench", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# The SDK already enables this for a 127.0.0.1 bind; spelled out so that a load generator's `Host: 127.0.0.1:PORT`
# (wrk, locust, the raw clients) is accepted by construction rather than by a default that could change.
LOCAL_ONLY = TransportSecuritySettings(
    enable_dns_rebinding_protection=True,
    allowed_hosts=["127.0.0.1:*", "localhost:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*"],
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--json-response", action="store_true", help="answer POSTs as application/json, not SSE")
    # The SDK refuses new sessions (503) past 10,000 open ones; the idle-sessions memory run needs a bit more room.
    parser.add_argument("--max-sessions", type=int, default=None, help="the SDK's session cap (default: the SDK's)")
    args = parser.parse_args()
    extra = {} if args.max_sessions is None else {"max_sessions": args.max_sessions}
    server.run(
        "streamable-http",
        host="127.0.0.1",
        port=args.port,
        streamable_http_path="/mcp",
        json_response=args.json_response,
        transport_security=LOCAL_ONLY,
        **extra,
    )


if __name__ == "__main__":
    main()
