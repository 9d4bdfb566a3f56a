"""The tasks extension (io.modelcontextprotocol/tasks, SEP-2663) on 2026-07-28 requests, over stdio and HTTP with
raw schema-checked clients (the official SDK client does not implement the extension): task creation when the
client declares the extension (and -32021 for a required task when it does not), polling with tasks/get, input
through inputRequests and tasks/update (partially, too), cancellation, failure, unknown tasks, and input-required
rounds before a deferred task starts."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest

from tests.support.procs import HttpServerProcess
from tests.support.schema import validate
from tests.support.stateless import META_VERSION, MODERN
from tests.support.stdio import RawServer

TASKS = "io.modelcontextprotocol/tasks"
WITH_TASKS = {META_VERSION: MODERN, "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}}}
ASKING = {**WITH_TASKS, "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}, "extensions": {TASKS: {}}}}
WITHOUT = {META_VERSION: MODERN, "io.modelcontextprotocol/clientCapabilities": {}}
NAME_OF = {"tools/call": "name", "tasks/get": "taskId", "tasks/update": "taskId", "tasks/cancel": "taskId"}

Ask = Callable[..., dict[str, Any]]


@pytest.fixture(params=["stdio", "http"])
def ask(request: pytest.FixtureRequest) -> Iterator[Ask]:
    """Sends one stateless request and returns the response message (`meta` is its `_meta`)."""
    ids = itertools.count(1)
    if request.param == "stdio":
        server = RawServer()

        def over_stdio(method: str, params: dict[str, Any], meta: dict[str, Any] = WITH_TASKS) -> dict[str, Any]:
            reply = server.request(next(ids), method, {**params, "_meta": meta})
            return checked(method, reply)

        try:
            yield over_stdio
        finally:
            server.close()
        return
    http = HttpServerProcess()

    def over_http(method: str, params: dict[str, Any], meta: dict[str, Any] = WITH_TASKS) -> dict[str, Any]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
        }
        if method in NAME_OF:
            headers["Mcp-Name"] = str(params[NAME_OF[method]])
        body = {"jsonrpc": "2.0", "id": next(ids), "method": method, "params": {**params, "_meta": meta}}
        resp = httpx2.post(http.url, json=body, headers=headers, timeout=10)
        reply = resp.json()
        if "error" in reply:
            assert resp.status_code in (400, 404), resp.status_code
        return checked(method, reply)

    try:
        yield over_http
    finally:
        http.stop()


def checked(method: str, reply: dict[str, Any]) -> dict[str, Any]:
    """Schema checks where the core schema defines the shape (the extension's own results it does not)."""
    if "error" in reply:
        validate(MODERN, "JSONRPCErrorResponse", reply)
    elif method == "tools/call" and reply["result"]["resultType"] == "complete":
        validate(MODERN, "CallToolResult", reply["result"])
    elif method == "tools/call" and reply["result"]["resultType"] == "input_required":
        validate(MODERN, "InputRequiredResult", reply["result"])
    else:
        result = reply["result"]
        assert "requestState" not in result and "ttl" not in result and "pollInterval" not in result, result
    return reply


def call(ask: Ask, tool: str, arguments: dict[str, Any], meta: dict[str, Any] = WITH_TASKS, **more: Any) -> Any:
    return ask("tools/call", {"name": tool, "arguments": arguments, **more}, meta)


def poll(ask: Ask, task_id: str, until: Callable[[dict[str, Any]], bool], meta: dict[str, Any] = WITH_TASKS) -> Any:
    deadline = time.monotonic() + 10
    while True:
        task = ask("tasks/get", {"taskId": task_id}, meta)["result"]
        if until(task):
            return task
        assert time.monotonic() < deadline, f"task never got there: {task}"
        time.sleep(0.02)


def terminal(task: dict[str, Any]) -> bool:
    return task["status"] in ("completed", "failed", "cancelled")


def test_a_declared_client_gets_a_task_and_polls_it(ask: Ask) -> None:
    created = call(ask, "long_job", {"seconds": 0.2})["result"]
    assert created["resultType"] == "task" and created["status"] == "working"
    assert set(created) >= {"taskId", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"}
    assert isinstance(created["ttlMs"], int) and isinstance(created["pollIntervalMs"], int)
    first = ask("tasks/get", {"taskId": created["taskId"]})["result"]
    assert first["resultType"] == "complete" and "result" not in first
    done = poll(ask, created["taskId"], terminal)
    assert done["status"] == "completed"
    assert done["result"]["content"][0]["text"] == "job done after 0.2s"
    assert done["result"]["resultType"] == "complete"
    assert "io.modelcontextprotocol/related-task" not in done["result"].get("_meta", {})


def test_without_the_extension_calls_stay_synchronous(ask: Ask) -> None:
    result = call(ask, "long_job", {"seconds": 0}, WITHOUT)["result"]
    assert result["resultType"] == "complete" and result["content"][0]["text"] == "job done after 0.0s"
    refused = call(ask, "failing_job", {}, WITHOUT)
    assert refused["error"]["code"] == -32021
    assert refused["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
    assert ask("tasks/get", {"taskId": "x"}, WITHOUT)["error"]["code"] == -32021
    # A sync-only tool never becomes a task, even when asked with a legacy task param.
    echoed = call(ask, "echo", {"text": "plain"}, task={"ttl": 1000})["result"]
    assert echoed["resultType"] == "complete"


def test_tool_errors_complete_and_request_errors_fail(ask: Ask) -> None:
    failing = call(ask, "failing_job", {})["result"]
    done = poll(ask, failing["taskId"], terminal)
    assert (done["status"], done["result"]["isError"]) == ("completed", True)
    crashing = call(ask, "crashing_job", {})["result"]
    failed = poll(ask, crashing["taskId"], terminal)
    assert failed["status"] == "failed" and "result" not in failed
    assert failed["error"] == {"code": -32603, "message": "the worker crashed"}


def test_input_is_asked_through_the_task(ask: Ask) -> None:
    created = call(ask, "approve_job", {"item": "invoice 7"}, ASKING)["result"]
    waiting = poll(ask, created["taskId"], lambda t: t["status"] == "input_required", ASKING)
    assert waiting["statusMessage"] == "waiting for approval of invoice 7"
    [(key, request)] = waiting["inputRequests"].items()
    validate(MODERN, "ElicitRequest", request)
    ack = ask(
        "tasks/update",
        {
            "taskId": created["taskId"],
            "inputResponses": {key: {"action": "accept", "content": {"ok": True}}, "stale": {}},
        },
        ASKING,
    )
    assert ack["result"] == {"resultType": "complete", "_meta": ack["result"]["_meta"]}
    done = poll(ask, created["taskId"], terminal, ASKING)
    assert done["result"]["content"][0]["text"] == "invoice 7: approved"


def test_cancellation_is_acknowledged_and_idempotent(ask: Ask) -> None:
    created = call(ask, "long_job", {"seconds": 30})["result"]
    for _ in range(2):
        ack = ask("tasks/cancel", {"taskId": created["taskId"]})["result"]
        assert ack["resultType"] == "complete" and "taskId" not in ack
    assert poll(ask, created["taskId"], terminal)["status"] == "cancelled"
    for method in ("tasks/get", "tasks/cancel", "tasks/update"):
        assert ask(method, {"taskId": "no-such-task"})["error"]["code"] == -32602, method
    for removed in ("tasks/result", "tasks/list"):
        assert ask(removed, {"taskId": created["taskId"]})["error"]["code"] == -32601


def test_a_deferred_task_gathers_input_first(ask: Ask) -> None:
    first = call(ask, "named_job", {}, ASKING)["result"]
    assert first["resultType"] == "input_required" and "taskId" not in first
    answer = {"owner": {"action": "accept", "content": {"name": "Ada"}}}
    created = call(ask, "named_job", {}, ASKING, inputResponses=answer, requestState=first["requestState"])["result"]
    assert created["resultType"] == "task" and "requestState" not in created
    done = poll(ask, created["taskId"], terminal, ASKING)
    assert done["result"]["content"][0]["text"] == "job of Ada done"
