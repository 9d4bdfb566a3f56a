"""Two workers sharing a real Redis (`run("http", workers=2, redis_url=...)`): one legacy session's requests land
on both workers (the `Ferromcp-Worker` header says which) and all succeed; the answer to an elicitation that
lands on the other worker reaches the handler waiting for it; a resource update published on one worker reaches
a subscriber (legacy subscription and 2026-07-28 listen stream) on the other; Redis going away is a clear 503
and its return needs no restart."""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from tests.support.procs import EVERYTHING, HttpServerProcess
from tests.support.redis import RedisServer
from tests.support.stateless import MODERN
from tests.support.stateless import post as post_modern

LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def workers(redis: RedisServer) -> Iterator[HttpServerProcess]:
    server = HttpServerProcess(EVERYTHING, "--workers", "2", "--redis-url", redis.url)
    try:
        yield server
    finally:
        server.stop()


def headers(session: str | None) -> dict[str, str]:
    h = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": LEGACY}
    if session:
        h["Mcp-Session-Id"] = session
    return h


def post(url: str, body: dict[str, Any], session: str | None = None) -> httpx2.Response:
    """One POST on a fresh connection (so the kernel picks the worker)."""
    return httpx2.post(url, json=body, headers=headers(session), timeout=10)


def messages(resp: httpx2.Response) -> list[Any]:
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        return [
            json.loads(line[5:]) for line in resp.text.splitlines() if line.startswith("data:") and line[5:].strip()
        ]
    return [resp.json()] if resp.content else []


def initialize(url: str, capabilities: dict[str, Any] | None = None) -> str:
    params = {
        "protocolVersion": LEGACY,
        "capabilities": capabilities or {},
        "clientInfo": {"name": "t", "version": "1"},
    }
    resp = post(url, {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params})
    assert resp.status_code == 200, resp.text
    session = resp.headers["mcp-session-id"]
    assert post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session).status_code == 202
    return session


def call(url: str, session: str, request_id: int, tool: str, arguments: dict[str, Any]) -> httpx2.Response:
    body = {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }
    return post(url, body, session)


def worker(resp: httpx2.Response) -> str:
    return resp.headers["ferromcp-worker"]


def test_one_session_is_served_by_both_workers(workers: HttpServerProcess) -> None:
    session = initialize(workers.url)
    seen: set[str] = set()
    for i in range(40):
        resp = call(workers.url, session, i + 1, "echo", {"text": f"hi {i}"})
        assert resp.status_code == 200, resp.text
        assert messages(resp)[-1]["result"]["content"][0]["text"] == f"hi {i}"
        seen.add(worker(resp))
    assert seen == {"0", "1"}, f"only workers {seen} served the session"


class Stream:
    """An SSE response read on a thread: its frames arrive in a queue."""

    def __init__(self, method: str, url: str, body: dict[str, Any] | None, hdrs: dict[str, str]) -> None:
        self.frames: queue.Queue[Any] = queue.Queue()
        self.opened: queue.Queue[httpx2.Response] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(method, url, body, hdrs), daemon=True)
        self.thread.start()
        self.response = self.opened.get(timeout=10)

    def _read(self, method: str, url: str, body: dict[str, Any] | None, hdrs: dict[str, str]) -> None:
        with httpx2.stream(method, url, json=body, headers=hdrs, timeout=30) as resp:
            self.opened.put(resp)
            for line in resp.iter_lines():
                if line.startswith("data:") and line[5:].strip():
                    self.frames.put(json.loads(line[5:]))

    def next(self, timeout: float = 10) -> Any:
        return self.frames.get(timeout=timeout)


def test_an_answer_that_lands_on_the_other_worker_reaches_the_waiting_handler(workers: HttpServerProcess) -> None:
    session = initialize(workers.url, {"elicitation": {}})
    crossed = 0
    for attempt in range(30):
        body = {"jsonrpc": "2.0", "id": 100 + attempt, "method": "tools/call"}
        body["params"] = {"name": "ask_user", "arguments": {"question": "Who?"}}
        stream = Stream("POST", workers.url, body, headers(session))
        asked = stream.next()
        assert asked["method"] == "elicitation/create", asked
        answer = {
            "jsonrpc": "2.0",
            "id": asked["id"],
            "result": {"action": "accept", "content": {"name": "Ada", "email": "a@b.c"}},
        }
        reply = post(workers.url, answer, session)
        assert reply.status_code == 202, reply.text
        result = stream.next()
        assert result["id"] == 100 + attempt and result["result"]["structuredContent"]["name"] == "Ada", result
        crossed += worker(reply) != worker(stream.response)
        if crossed >= 2:
            break
    assert crossed >= 2, "no answer landed on the other worker"


def test_a_resource_update_on_one_worker_reaches_subscribers_on_the_other(workers: HttpServerProcess) -> None:
    session = initialize(workers.url)
    subscribe = {"jsonrpc": "2.0", "id": 1, "method": "resources/subscribe", "params": {"uri": "test://readme"}}
    assert post(workers.url, subscribe, session).status_code == 200
    get = Stream(
        "GET",
        workers.url,
        None,
        {"Accept": "text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY},
    )
    listen_body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "subscriptions/listen",
        "params": {
            "notifications": {"resourceSubscriptions": ["test://readme"]},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    }
    listen_headers = {"Accept": ACCEPT, "Content-Type": "application/json", "MCP-Protocol-Version": MODERN}
    listen = Stream("POST", workers.url, listen_body, {**listen_headers, "Mcp-Method": "subscriptions/listen"})
    assert listen.next()["method"] == "notifications/subscriptions/acknowledged"
    # Touch the resource from each worker in turn (as the kernel spreads the calls): every touch reaches both
    # the legacy subscriber and the listener, whichever worker holds them.
    touched: set[str] = set()
    for i in range(40):
        resp = call(workers.url, session, 10 + i, "touch_readme", {})
        assert resp.status_code == 200
        touched.add(worker(resp))
        for stream in (get, listen):
            update = stream.next(5)
            assert update["method"] == "notifications/resources/updated", update
            assert update["params"]["uri"] == "test://readme"
        if touched == {"0", "1"}:
            break
    assert touched == {"0", "1"}
    assert worker(get.response) in touched and worker(listen.response) in touched


def test_redis_going_away_is_a_503_and_its_return_needs_no_restart(
    redis: RedisServer, workers: HttpServerProcess
) -> None:
    session = initialize(workers.url)
    redis.stop()
    refused = post(
        workers.url,
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        },
    )
    assert refused.status_code == 503 and refused.json()["error"]["message"], refused.text
    assert httpx2.get(workers.url.replace("/mcp", "/readyz"), timeout=10).status_code == 503
    # Stateless traffic needs no Redis.
    stateless = post_modern(
        workers.url,
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "name": "echo",
                "arguments": {"text": "still here"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
            },
        },
        **{"Mcp-Name": "echo"},
    )
    assert stateless.status_code == 200, stateless.text
    redis.start()
    deadline = time.monotonic() + 15
    while True:
        resp = post(
            workers.url,
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
            },
        )
        if resp.status_code == 200:
            break
        assert time.monotonic() < deadline, f"no recovery: {resp.status_code} {resp.text}"
        time.sleep(0.2)
    fresh = initialize(workers.url)
    for i in range(10):
        assert call(workers.url, fresh, i + 1, "echo", {"text": "back"}).status_code == 200
    assert session  # the old session's record went with the restarted (non-persistent) Redis


def sse_events(resp: httpx2.Response) -> list[tuple[str, str]]:
    """(id, data) of each event of a finished SSE response."""
    out: list[tuple[str, str]] = []
    event_id, data = "", ""
    for line in resp.iter_lines():
        if line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and event_id:
            out.append((event_id, data))
            event_id, data = "", ""
    return out


def test_a_stream_closed_on_one_worker_resumes_on_the_other(workers: HttpServerProcess) -> None:
    session = initialize(workers.url)
    crossed = 0
    for attempt in range(30):
        body = {"jsonrpc": "2.0", "id": 200 + attempt, "method": "tools/call"}
        body["params"] = {"name": "reconnecting", "arguments": {}, "_meta": {"progressToken": f"p{attempt}"}}
        with httpx2.stream("POST", workers.url, json=body, headers=headers(session), timeout=10) as first:
            before = sse_events(first)
            started_on = worker(first)
        assert before and not any('"result"' in data for _, data in before), before
        last_id = before[-1][0]
        resume = {"Accept": "text/event-stream", "Mcp-Session-Id": session, "MCP-Protocol-Version": LEGACY}
        with httpx2.stream("GET", workers.url, headers={**resume, "Last-Event-ID": last_id}, timeout=10) as again:
            assert again.status_code == 200
            after = sse_events(again)
            resumed_on = worker(again)
        messages_after = [json.loads(data) for _, data in after if data]
        assert [m.get("method") for m in messages_after] == ["notifications/progress", None], messages_after
        assert messages_after[0]["params"]["message"] == "while the client was away"
        assert messages_after[1]["id"] == 200 + attempt and "finished after reconnect" in str(messages_after[1])
        ids = [event_id for event_id, _ in before + after]
        assert len(ids) == len(set(ids)), f"an event came twice: {ids}"
        stream = {i.rsplit(".", 1)[0] for i in ids}
        seqs = [int(i.rsplit(".", 1)[1]) for i in ids]
        assert len(stream) == 1 and seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"missing events: {ids}"
        crossed += started_on != resumed_on
        if crossed >= 2:
            break
    assert crossed >= 2, "no resumption landed on the other worker"


def test_killing_a_worker_under_load_loses_no_answered_call(workers: HttpServerProcess) -> None:
    session = initialize(workers.url)
    answered: list[tuple[int, str, str]] = []
    refused: list[str] = []
    stop = threading.Event()
    ids = itertools.count(1)

    def load() -> None:
        while not stop.is_set():
            i = next(ids)
            try:
                resp = call(workers.url, session, 1000 + i, "echo", {"text": f"call {i}"})
            except httpx2.TransportError as exc:  # the connection died with its worker: never answered
                refused.append(type(exc).__name__)
                continue
            assert resp.status_code == 200, resp.text
            answered.append((i, messages(resp)[-1]["result"]["content"][0]["text"], worker(resp)))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        supervisor = workers.proc.pid
        with open(f"/proc/{supervisor}/task/{supervisor}/children") as f:
            victim = int(f.read().split()[0])
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while True:  # replaced: two workers again, the victim gone
            with open(f"/proc/{supervisor}/task/{supervisor}/children") as f:
                now = [int(p) for p in f.read().split()]
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.05)
        served_before = len(answered)
        deadline = time.monotonic() + 15
        while {w for _, _, w in answered[served_before:]} != {"0", "1"}:
            assert time.monotonic() < deadline, "the replacement never served the session"
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    # Every answer is the right one for its call; the calls that failed did so at the transport, unanswered.
    assert all(text == f"call {i}" for i, text, _ in answered)
    assert len(answered) > 20, len(answered)


def test_a_legacy_task_is_polled_and_awaited_through_either_worker(workers: HttpServerProcess) -> None:
    session = initialize(workers.url)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    body["params"] = {"name": "long_job", "arguments": {"seconds": 0.5}, "task": {"ttl": 60000}}
    created = post(workers.url, body, session)
    task = messages(created)[-1]["result"]["task"]["taskId"]
    polled_by: set[str] = set()
    deadline = time.monotonic() + 10
    while True:
        got = post(workers.url, {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"taskId": task}}, session)
        assert got.status_code == 200, got.text
        polled_by.add(worker(got))
        if messages(got)[-1]["result"]["status"] == "completed" and polled_by == {"0", "1"}:
            break
        assert time.monotonic() < deadline, f"{messages(got)}, polled by {polled_by}"
        time.sleep(0.02)
    for i in range(6):  # tasks/result and tasks/list answer the same on both workers
        result = post(
            workers.url, {"jsonrpc": "2.0", "id": 10 + i, "method": "tasks/result", "params": {"taskId": task}}, session
        )
        assert messages(result)[-1]["result"]["content"][0]["text"] == "job done after 0.5s"
        listed = post(workers.url, {"jsonrpc": "2.0", "id": 20 + i, "method": "tasks/list"}, session)
        assert task in [t["taskId"] for t in messages(listed)[-1]["result"]["tasks"]]


def test_tasks_of_the_tasks_extension_complete_whichever_worker_is_polled(workers: HttpServerProcess) -> None:
    caps = {"extensions": {"io.modelcontextprotocol/tasks": {}}}
    meta = {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": caps}
    for i in range(10):  # with a task store the creation answer races the task's start: it must never lose it
        body = {"jsonrpc": "2.0", "id": i, "method": "tools/call"}
        body["params"] = {"name": "long_job", "arguments": {"seconds": 0.05}, "_meta": meta}
        created = post_modern(workers.url, body, **{"Mcp-Name": "long_job"}).json()["result"]
        assert created["resultType"] == "task", created
        deadline = time.monotonic() + 5
        while True:
            get = {"jsonrpc": "2.0", "id": 100 + i, "method": "tasks/get"}
            get["params"] = {"taskId": created["taskId"], "_meta": meta}
            task = post_modern(workers.url, get, **{"Mcp-Name": created["taskId"]}).json()["result"]
            if task["status"] == "completed":
                break
            assert time.monotonic() < deadline, f"task {i} stuck: {task}"
            time.sleep(0.02)
