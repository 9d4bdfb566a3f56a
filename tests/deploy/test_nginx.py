"""The deployment kit's nginx config (deploy/nginx/ferromcp.conf) in front of two replicas, end to end: a real
nginx, two `ferromcp run deploy/app/app.py` processes minting session ids prefixed `replica-a.` and `replica-b.`,
and the official MCP client talking to nginx. A session's requests all reach the replica its id names (the
app's `whoami` says which replica answered, nginx's access log which upstream it chose); requests without a
session id go round robin; SSE answers stream through unbuffered; stateless input-required round trips retry
on the other replica and succeed because both share their request-state keys."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import types

from tests.support.clients import MODERN, http_client
from tests.support.nginx import Logged, Nginx, Replica

NAMES = ("replica-a", "replica-b")


class Deployment:
    def __init__(self, nginx: Nginx, replicas: dict[str, Replica]) -> None:
        self.nginx = nginx
        self.replicas = replicas
        self.url = f"{nginx.url}/mcp"

    def replica_at(self, upstream: str) -> str:
        return next(name for name, r in self.replicas.items() if r.address == upstream)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    keys = secrets.token_hex(32)
    replicas: dict[str, Replica] = {}
    nginx: Nginx | None = None
    try:
        for name in NAMES:
            replicas[name] = Replica(name, keys)
        nginx = Nginx(tmp_path / "nginx", {name: r.address for name, r in replicas.items()})
        yield Deployment(nginx, replicas)
    finally:
        if nginx is not None:
            nginx.stop()
        for replica in replicas.values():
            replica.stop()


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def session_id_of(exchanges: list[dict[str, Any]]) -> str:
    return next(ex["headers"]["mcp-session-id"] for ex in exchanges if ex["headers"].get("mcp-session-id"))


async def test_legacy_sessions_stay_on_the_replica_their_id_names(deployment: Deployment) -> None:
    sessions: dict[str, str] = {}  # session id -> the replica whoami named, on every call of the session
    for _ in range(4):  # round robin: consecutive initializes land on alternate replicas
        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)  # noqa: B023 (each session's own list, used inside its own iteration)

        async with http_client(deployment.url, mode="legacy") as (client, wire):
            answered = {text(await client.call_tool("whoami", {})) for _ in range(5)}
            assert (await client.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
            countdown = await client.call_tool("countdown", {"start": 3}, progress_callback=on_progress)
            assert text(countdown) == "liftoff" and progress == [0, 1, 2, 3]
        assert len(answered) == 1, f"one session was answered by several replicas: {answered}"
        session_id = session_id_of(wire.exchanges)
        sessions[session_id] = answered.pop()
        streamed = [ex for ex in wire.exchanges if b'"countdown"' in ex["request"]]
        assert streamed[0]["headers"]["content-type"].startswith("text/event-stream")
        if len(set(sessions.values())) == len(NAMES) and len(sessions) >= 2:
            break
    assert set(sessions.values()) == set(NAMES), f"the sessions did not spread over both replicas: {sessions}"
    for session_id, replica in sessions.items():
        assert session_id.startswith(f"{replica}."), (session_id, replica)

    # nginx's side: every request carrying a session id went to the replica its prefix names, and succeeded.
    def all_logged(log: list[Logged]) -> bool:
        return {entry.session_id for entry in log} >= set(sessions)

    log = deployment.nginx.wait_log(all_logged)
    in_sessions = [entry for entry in log if entry.session_id]
    assert len(in_sessions) >= 8 * len(sessions)
    for entry in in_sessions:
        assert deployment.replica_at(entry.upstream) == sessions[entry.session_id], entry
        assert entry.status < 400, entry
    initializes = [entry for entry in log if not entry.session_id and entry.method == "POST"]
    assert {deployment.replica_at(entry.upstream) for entry in initializes} == set(NAMES)


async def test_a_session_id_prefix_picks_the_replica_even_for_an_unknown_session(deployment: Deployment) -> None:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    for name in NAMES:
        session = f"{name}.{secrets.token_hex(16)}"
        async with httpx2.AsyncClient(timeout=10) as http:
            answer = await http.post(deployment.url, json=ping, headers={**headers, "Mcp-Session-Id": session})
        assert answer.status_code == 404, answer.text  # the replica does not know it: the client starts anew
        log = deployment.nginx.wait_log(lambda log, s=session: any(e.session_id == s for e in log))
        assert [deployment.replica_at(e.upstream) for e in log if e.session_id == session] == [name]


async def test_sse_progress_streams_through_unbuffered(deployment: Deployment) -> None:
    arrivals: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        arrivals.append(time.monotonic())

    async with http_client(deployment.url, mode="legacy") as (client, _):
        result = await client.call_tool("countdown", {"start": 3, "pause": 0.4}, progress_callback=on_progress)
        finished = time.monotonic()
    assert text(result) == "liftoff" and len(arrivals) == 4
    # The first progress notification was written 1.2 s before the result: it reached the client long before.
    assert finished - arrivals[0] > 0.8, "nginx held the SSE stream back"


async def test_stateless_requests_go_to_any_replica(deployment: Deployment) -> None:
    async with http_client(deployment.url, mode=MODERN) as (client, _):
        answered = [text(await client.call_tool("whoami", {})) for _ in range(6)]
        assert (await client.call_tool("add", {"a": 1, "b": 1})).structured_content == {"result": 2}
    assert set(answered) == set(NAMES), answered
    log = deployment.nginx.wait_log(lambda log: sum(e.mcp_method == "tools/call" for e in log) >= 7)
    calls = [e for e in log if e.mcp_method == "tools/call"]
    assert all(not e.session_id and e.status == 200 for e in calls), calls
    assert {deployment.replica_at(e.upstream) for e in calls} == set(NAMES)


async def test_input_required_round_trips_retry_on_the_other_replica(deployment: Deployment) -> None:
    async def elicit(context: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async with http_client(deployment.url, mode=MODERN, elicitation_callback=elicit) as (client, wire):
        greetings = [text(await client.call_tool("greet", {})) for _ in range(3)]
    assert greetings == ["Hello, Ada."] * 3
    rounds = [r for r in wire.results() if r.get("resultType") == "input_required"]
    assert len(rounds) == 3
    log = deployment.nginx.wait_log(lambda log: sum(e.mcp_method == "tools/call" for e in log) >= 6)
    calls = [deployment.replica_at(e.upstream) for e in log if e.mcp_method == "tools/call"]
    # Each greet is a first request and a retry carrying the sealed state; round robin alternates them, so
    # every retry was opened by the replica that did not seal it.
    assert len(calls) == 6 and all(calls[i] != calls[i + 1] for i in range(0, 6, 2)), calls
