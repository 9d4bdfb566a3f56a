"""No call is left unanswered: a handle the runtime drops without an answer (simulated by a dispatcher that loses
one tool's calls) is answered with an error by the core, and a sync handler raising SystemExit inline has its
call answered, the other calls of the same batch handled, and then the process exits with its code."""

from __future__ import annotations

import json

from tests.support.paths import TESTS
from tests.support.stdio import RawServer

LOSSY = TESTS / "servers" / "lossy.py"


def call(request_id: int, tool: str, arguments: dict[str, object] | None = None) -> bytes:
    params = {"name": tool, "arguments": arguments or {}}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()


def test_a_dropped_call_is_answered_with_an_error() -> None:
    server = RawServer(LOSSY)
    try:
        server.initialize()
        server.send_raw(call(1, "lost") + b"\n")
        reply = server.recv()
        assert reply["id"] == 1 and reply["error"]["code"] == -32603, reply
        assert "lost this call" in reply["error"]["message"]
        server.send_raw(call(2, "ok", {"text": "still serving"}) + b"\n")
        assert server.recv()["result"]["content"][0]["text"] == "still serving"
    finally:
        server.close()


def test_system_exit_in_a_sync_handler_answers_the_whole_batch_then_exits() -> None:
    server = RawServer(LOSSY)
    try:
        server.initialize()
        batch = [call(1, "stop"), call(2, "ok", {"text": "after"}), call(3, "ok", {"text": "too"})]
        server.send_raw(b"\n".join(batch) + b"\n")
        replies = {m["id"]: m for m in (server.recv() for _ in range(3))}
        assert replies[1]["error"] == {"code": -32603, "message": "Internal error: SystemExit"}
        assert replies[2]["result"]["content"][0]["text"] == "after"
        assert replies[3]["result"]["content"][0]["text"] == "too"
    finally:
        assert server.close() == 3
