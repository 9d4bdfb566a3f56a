"""Opens N MCP sessions (initialize, then notifications/initialized) and writes their ids, one a line, for wrk.

    python loadtests/wrk/make_sessions.py --port 8000 -n 64 -o /tmp/sessions.txt

The sessions are left open: wrk's tools_call.lua sends its calls on them. Standard library only (loadtests.kit is
too), so it runs from any Python 3.10+; run_http_bench.py has its own faster client and does not need this script.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
from pathlib import Path

# Run as a script, this file's folder is on sys.path, not the repository root that loadtests.kit is found from.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from loadtests.kit.http_wire import MCP_PATH, POST_HEADERS
from loadtests.kit.protocol import INITIALIZED, PROTOCOL_VERSION, initialize_request

INITIALIZE = initialize_request(1, "ferromcp-loadtests")


def open_session(conn: http.client.HTTPConnection, path: str) -> str:
    conn.request("POST", path, body=json.dumps(INITIALIZE), headers=POST_HEADERS)
    response = conn.getresponse()
    body = response.read()
    session_id = response.getheader("Mcp-Session-Id")
    if response.status != 200 or not session_id:
        raise RuntimeError(f"initialize: HTTP {response.status}, session id {session_id!r}, body {body[:200]!r}")
    headers = {**POST_HEADERS, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL_VERSION}
    conn.request("POST", path, body=json.dumps(INITIALIZED), headers=headers)
    response = conn.getresponse()
    body = response.read()
    if response.status != 202:
        raise RuntimeError(f"notifications/initialized: HTTP {response.status}, body {body[:200]!r}")
    return session_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--path", default=MCP_PATH)
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
