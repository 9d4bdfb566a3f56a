"""Opens N MCP sessions (initialize, then notifications/initialized) and writes their ids, one a line, for wrk.

    python loadtests/wrk/make_sessions.py --port 8000 -n 64 -o /tmp/sessions.txt

The sessions are left open: wrk's tools_call.lua sends its calls on them. Standard library only, so it runs from
any Python 3.10+; run_http_bench.py has its own faster client and does not need this script.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from pathlib import Path

PROTOCOL_VERSION = "2025-11-25"
BASE_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "ferromcp-loadtests", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def open_session(conn: http.client.HTTPConnection, path: str) -> str:
    conn.request("POST", path, body=json.dumps(INITIALIZE), headers=BASE_HEADERS)
    response = conn.getresponse()
    body = response.read()
    session_id = response.getheader("Mcp-Session-Id")
    if response.status != 200 or not session_id:
        raise RuntimeError(f"initialize: HTTP {response.status}, session id {session_id!r}, body {body[:200]!r}")
    headers = {**BASE_HEADERS, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL_VERSION}
    conn.request("POST", path, body=json.dumps(INITIALIZED), headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 202:
        raise RuntimeError(f"notifications/initialized: HTTP {response.status}, body {body[:200]!r}")
    return session_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--path", default="/mcp")
    parser.add_argument("-n", "--sessions", type=int, default=64)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    # 127.0.0.1 only: the kit never aims load at another machine.
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    try:
        ids = [open_session(conn, args.path) for _ in range(args.sessions)]
    finally:
        conn.close()
    args.output.write_text("".join(f"{session_id}\n" for session_id in ids))
    print(f"{len(ids)} sessions written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
