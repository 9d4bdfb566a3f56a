"""The sealed `requestState` of input-required round trips, raw over HTTP: what a client sends back is
attacker-controlled input, so anything that fails verification (altered, expired, sealed by a process with
other keys, or presented with other arguments or another tool) is refused with -32602 / HTTP 400 before the
handler runs; processes given the same keys accept each other's states (several workers, one deployment)."""

from __future__ import annotations

import time
from typing import Any

import httpx2

from tests.support.procs import HttpServerProcess
from tests.support.stateless import CAPABILITIES, META, META_VERSION, MODERN, call, post

KEY_A = "11" * 32
KEY_B = "22" * 32
ASKING = {META_VERSION: MODERN, CAPABILITIES: {"elicitation": {}}}


def ask(url: str, request_id: int = 1, arguments: dict[str, Any] | None = None, **params: Any) -> httpx2.Response:
    body = call("ask_user", arguments or {"question": "Who?"}, request_id, _meta=ASKING, **params)
    return post(url, body, **{"Mcp-Name": "ask_user"})


def first_state(url: str) -> str:
    resp = ask(url)
    assert resp.status_code == 200, resp.text
    result = resp.json()["result"]
    assert result["resultType"] == "input_required"
    assert result["inputRequests"]["elicitation-1"]["method"] == "elicitation/create"
    return result["requestState"]


ANSWER = {"elicitation-1": {"action": "accept", "content": {"name": "Ada", "email": "a@example.com"}}}


def assert_refused(resp: httpx2.Response, request_id: int) -> None:
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["id"] == request_id and body["error"]["code"] == -32602, body
    assert "requestState" in body["error"]["message"]


def test_state_is_bound_and_integrity_protected(http_server: HttpServerProcess) -> None:
    url = http_server.url
    state = first_state(url)
    done = ask(url, 2, inputResponses=ANSWER, requestState=state)
    assert done.json()["result"]["structuredContent"]["name"] == "Ada"
    # Answers given up front, with no state, are taken for the questions asked under their keys.
    assert ask(url, 3, inputResponses=ANSWER).json()["result"]["resultType"] == "complete"

    flipped = state[:10] + ("A" if state[10] != "A" else "B") + state[11:]
    assert_refused(ask(url, 4, inputResponses=ANSWER, requestState=flipped), 4)
    assert_refused(ask(url, 5, inputResponses=ANSWER, requestState="garbage"), 5)
    assert_refused(ask(url, 6, {"question": "Someone else?"}, inputResponses=ANSWER, requestState=state), 6)
    other_tool = call("interview", {}, 7, _meta=ASKING, inputResponses=ANSWER, requestState=state)
    assert_refused(post(url, other_tool, **{"Mcp-Name": "interview"}), 7)
    # A state is not an answer to an unrelated request either: the round trip starts over, it is not an error.
    again = ask(url, 8, requestState=state)
    assert again.json()["result"]["resultType"] == "input_required"


def test_expired_state_is_refused() -> None:
    server = HttpServerProcess(env={"FERROMCP_TEST_STATE_TTL": "0.3"})
    try:
        state = first_state(server.url)
        time.sleep(0.5)
        refused = ask(server.url, 2, inputResponses=ANSWER, requestState=state)
        assert_refused(refused, 2)
        assert "expired" in refused.json()["error"]["message"]
    finally:
        server.stop()


def test_processes_with_the_same_keys_accept_each_others_state() -> None:
    a = HttpServerProcess(env={"FERROMCP_TEST_STATE_KEYS": KEY_A})
    b = HttpServerProcess(env={"FERROMCP_TEST_STATE_KEYS": f"{KEY_B},{KEY_A}"})  # rotated: B seals, A still opens
    c = HttpServerProcess(env={"FERROMCP_TEST_STATE_KEYS": KEY_B})
    try:
        state = first_state(a.url)
        assert ask(b.url, 2, inputResponses=ANSWER, requestState=state).json()["result"]["resultType"] == "complete"
        assert_refused(ask(c.url, 3, inputResponses=ANSWER, requestState=state), 3)
        # And a process with its own random key accepts no one else's.
        default = HttpServerProcess()
        try:
            assert_refused(ask(default.url, 4, inputResponses=ANSWER, requestState=state), 4)
        finally:
            default.stop()
    finally:
        for server in (a, b, c):
            server.stop()


def test_undeclared_capability_and_unsupported_requests(http_server: HttpServerProcess) -> None:
    url = http_server.url
    refused = post(url, call("ask_model", {"prompt": "hi"}, 1), **{"Mcp-Name": "ask_model"})
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": -32021,
        "message": "ctx.sample() needs the client capability 'sampling', which this request did not declare",
        "data": {"requiredCapabilities": {"sampling": {}}},
    }
    # inputResponses must be an object; lists never ask for input.
    bad = ask(url, 2, inputResponses=[1])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == -32602
    listed = post(url, {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {"_meta": META}})
    assert listed.json()["result"]["resultType"] == "complete"


def test_answers_too_large_to_seal_are_an_error_not_a_hang(http_server: HttpServerProcess) -> None:
    meta = {META_VERSION: MODERN, CAPABILITIES: {"sampling": {}, "elicitation": {}}}
    first = post(
        http_server.url, call("summarize_then_confirm", {}, 1, _meta=meta), **{"Mcp-Name": "summarize_then_confirm"}
    )
    state = first.json()["result"]["requestState"]
    huge = {"role": "assistant", "content": {"type": "text", "text": "x" * 70_000}, "model": "m"}
    body = call("summarize_then_confirm", {}, 2, _meta=meta, inputResponses={"summary": huge}, requestState=state)
    refused = post(http_server.url, body, **{"Mcp-Name": "summarize_then_confirm"})
    assert refused.json()["error"]["code"] == -32603
    assert "cannot ask the client" in refused.json()["error"]["message"]
