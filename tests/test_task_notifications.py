"""Task status notifications (tasks extension): a `subscriptions/listen` stream that names tasks in `taskIds`
hears `notifications/tasks` with the whole task each time one of them changes — and nothing of the tasks it did
not name — over stdio and HTTP, with raw clients (the official SDK client cannot ask for them)."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

import httpx2
import pytest

from tests.support.procs import HttpServerProcess
from tests.support.schema import validate
from tests.support.stateless import META_VERSION, MODERN
from tests.support.stdio import RawServer

TASKS = "io.modelcontextprotocol/tasks"
CAPS = "io.modelcontextprotocol/clientCapabilities"
ASKING = {META_VERSION: MODERN, CAPS: {"elicitation": {}, "extensions": {TASKS: {}}}}
WITHOUT = {META_VERSION: MODERN, CAPS: {}}
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"
NAME_OF = {"tools/call": "name", "tasks/get": "taskId", "tasks/update": "taskId", "tasks/cancel": "taskId"}


class Peer(Protocol):
    def ask(self, method: str, params: dict[str, Any], meta: dict[str, Any] = ASKING) -> dict[str, Any]: ...
    def listen(self, request_id: int, notifications: dict[str, Any], meta: dict[str, Any] = ASKING) -> None: ...
    def frame(self, timeout: float = 10) -> dict[str, Any]: ...


class StdioPeer:
    """One stdio process: answers are matched to their requests, everything else is a listen frame."""

    def __init__(self) -> None:
        self.server = RawServer()
        self.ids = itertools.count(1)
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()

    def _next(self, timeout: float) -> dict[str, Any]:
        return self.server.recv(timeout)

    def ask(self, method: str, params: dict[str, Any], meta: dict[str, Any] = ASKING) -> dict[str, Any]:
        request_id = next(self.ids)
        self.server.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": meta}})
        while True:
            msg = self._next(10)
            if msg.get("id") == request_id and "method" not in msg:
                return msg
            self.frames.put(msg)

    def listen(self, request_id: int, notifications: dict[str, Any], meta: dict[str, Any] = ASKING) -> None:
        params = {"notifications": notifications, "_meta": meta}
        self.server.send({"jsonrpc": "2.0", "id": request_id, "method": "subscriptions/listen", "params": params})

    def frame(self, timeout: float = 10) -> dict[str, Any]:
        try:
            return self.frames.get_nowait()
        except queue.Empty:
            return self._next(timeout)

    def close(self) -> None:
        self.server.close()


class HttpPeer:
    """One HTTP server: requests are POSTs; a listen stream is read on a thread into the frames queue."""

    def __init__(self) -> None:
        self.server = HttpServerProcess()
        self.ids = itertools.count(1)
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.readers: list[threading.Thread] = []

    def _headers(self, method: str, params: dict[str, Any]) -> dict[str, str]:
        headers = {
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": MODERN,
            "Mcp-Method": method,
        }
        if method in NAME_OF:
            headers["Mcp-Name"] = str(params[NAME_OF[method]])
        return headers

    def ask(self, method: str, params: dict[str, Any], meta: dict[str, Any] = ASKING) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": {**params, "_meta": meta}}
        return httpx2.post(self.server.url, json=body, headers=self._headers(method, params), timeout=10).json()

    def listen(self, request_id: int, notifications: dict[str, Any], meta: dict[str, Any] = ASKING) -> None:
        method = "subscriptions/listen"
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": method,
            "params": {"notifications": notifications, "_meta": meta},
        }

        def read() -> None:
            with httpx2.stream(
                "POST", self.server.url, json=body, headers=self._headers(method, {}), timeout=30
            ) as resp:
                if not resp.headers["content-type"].startswith("text/event-stream"):
                    self.frames.put(json.loads(resp.read()))
                    return
                for line in resp.iter_lines():
                    if line.startswith("data:"):
                        self.frames.put(json.loads(line[5:]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self.readers.append(reader)

    def frame(self, timeout: float = 10) -> dict[str, Any]:
        return self.frames.get(timeout=timeout)

    def close(self) -> None:
        self.server.stop()
        for reader in self.readers:
            reader.join(10)


@pytest.fixture(params=["stdio", "http"])
def peer(request: pytest.FixtureRequest) -> Iterator[Peer]:
    p: StdioPeer | HttpPeer = StdioPeer() if request.param == "stdio" else HttpPeer()
    try:
        yield p
    finally:
        p.close()


def frames_until(peer: Peer, done: Any) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not got or not done(got[-1]):
        assert time.monotonic() < deadline, got
        got.append(peer.frame())
    return got


def test_a_listener_hears_every_change_of_the_tasks_it_named(peer: Peer) -> None:
    named = peer.ask("tools/call", {"name": "approve_job", "arguments": {"item": "invoice 9"}})["result"]
    other = peer.ask("tools/call", {"name": "long_job", "arguments": {"seconds": 0.1}})["result"]
    assert named["resultType"] == other["resultType"] == "task"
    peer.listen(50, {"taskIds": [named["taskId"]], "toolsListChanged": True})
    ack = peer.frame()
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert ack["params"]["notifications"] == {"toolsListChanged": True, "taskIds": [named["taskId"]]}

    waiting = peer.ask("tasks/get", {"taskId": named["taskId"]})["result"]
    deadline = time.monotonic() + 10
    while waiting["status"] != "input_required":
        assert time.monotonic() < deadline, waiting
        time.sleep(0.02)
        waiting = peer.ask("tasks/get", {"taskId": named["taskId"]})["result"]
    [key] = waiting["inputRequests"]
    answer = {key: {"action": "accept", "content": {"ok": True}}}
    peer.ask("tasks/update", {"taskId": named["taskId"], "inputResponses": answer})

    seen = frames_until(peer, lambda f: f.get("params", {}).get("status") == "completed")
    assert {f["method"] for f in seen} == {"notifications/tasks"}
    for f in seen:
        validate(MODERN, "JSONRPCNotification", f)
        assert f["params"]["taskId"] == named["taskId"], "a task the listener did not name"
        assert f["params"]["_meta"] == {SUBSCRIPTION_ID: 50}
        assert "resultType" not in f["params"]
        assert {"status", "createdAt", "lastUpdatedAt", "ttlMs", "pollIntervalMs"} <= set(f["params"])
    statuses = [f["params"]["status"] for f in seen]
    assert statuses[-2:] == ["working", "completed"], statuses
    assert seen[-1]["params"]["result"]["content"][0]["text"] == "invoice 9: approved"


def test_naming_tasks_needs_the_extension_declared(peer: Peer) -> None:
    peer.listen(60, {"taskIds": ["anything"]}, WITHOUT)
    refused = peer.frame()
    assert refused["id"] == 60 and refused["error"]["code"] == -32021
    assert refused["error"]["data"] == {"requiredCapabilities": {"extensions": {TASKS: {}}}}
