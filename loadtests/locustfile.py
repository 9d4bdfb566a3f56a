"""Locust users speaking MCP Streamable HTTP to a ferromcp or official-SDK server (see loadtests/servers/).

    locust -f loadtests/locustfile.py --headless -u 64 -r 64 -t 20s --host http://127.0.0.1:8000 McpSessionUser
    locust -f loadtests/locustfile.py --headless -u 32 -r 32 -t 20s --host http://127.0.0.1:8000 PerCallSessionUser

McpSessionUser opens one session per user and loops tools/list and tools/call echo on it (1:10); PerCallSessionUser
opens, uses once and deletes a session per task (initialize -> initialized -> tools/call echo -> DELETE), the
workload of the "TM Dev Lab v2" MCP benchmark, and also reports each whole session as one "MCP session" entry.

Locust spends far more CPU per request than either server here does (a few thousand requests/s per core), so use
it for realistic mixed traffic and error checking; run_http_bench.py with wrk measures the ceilings. The MCP path
defaults to /mcp; set MCP_PATH to change it.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, task
from locust.contrib.fasthttp import ResponseContextManager

# locust puts this file's folder on sys.path, not the repository root that loadtests.kit is found from.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadtests.kit.http_wire import ECHO_TEXT, POST_HEADERS
from loadtests.kit.http_wire import MCP_PATH as DEFAULT_MCP_PATH
from loadtests.kit.protocol import INITIALIZED as INITIALIZED_MESSAGE
from loadtests.kit.protocol import PROTOCOL_VERSION, initialize_request

MCP_PATH = os.environ.get("MCP_PATH", DEFAULT_MCP_PATH)
INITIALIZE = json.dumps(initialize_request(0, "ferromcp-locust"))
INITIALIZED = json.dumps(INITIALIZED_MESSAGE)


class McpFailure(Exception):
    """Raised inside a request's context to mark it failed and end the current task's sequence."""


def header(response: ResponseContextManager, name: str) -> str:
    """A response header's value, or "" (locust's headers may be absent, and a repeated header comes as a list)."""
    value = response.headers.get(name) if response.headers is not None else None
    if isinstance(value, list):
        value = value[0] if value else None
    return value or ""


def jsonrpc_message(response: ResponseContextManager) -> dict[str, Any]:
    """The JSON-RPC response a POST carried: plain JSON, or the `data:` of an SSE event holding it."""
    content_type = header(response, "Content-Type").lower()
    body = response.content or b""
    if content_type.startswith("text/event-stream"):
        for event in body.decode().replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:"))
            if not data:
                continue  # priming events and comments carry no message
            message = json.loads(data)
            if isinstance(message, dict) and "id" in message and ("result" in message or "error" in message):
                return message
        raise McpFailure("no JSON-RPC response in the event stream")
    message = json.loads(body)
    if not isinstance(message, dict):
        raise McpFailure("response is not a JSON-RPC object")
    return message


class McpUser(FastHttpUser):
    abstract = True
    # Back-to-back requests: the point is load, not a model of a human's pauses.
    wait_time = constant(0)

    def on_start(self) -> None:
        self._ids = itertools.count(1)

    def _headers(self, session_id: str) -> dict[str, str]:
        return {**POST_HEADERS, "Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL_VERSION}

    def _result(self, response: ResponseContextManager, what: str) -> dict[str, Any] | None:
        """The JSON-RPC result, or None after marking the request failed (wrong status, error or no result)."""
        try:
            if response.status_code != 200:
                raise McpFailure(f"{what}: HTTP {response.status_code}")
            message = jsonrpc_message(response)
            if "error" in message:
                raise McpFailure(f"{what}: JSON-RPC error {message['error']}")
            result = message.get("result")
            if not isinstance(result, dict):
                raise McpFailure(f"{what}: no result")
        except (McpFailure, ValueError) as exc:
            response.failure(str(exc))
            return None
        response.success()
        return result

    def open_session(self) -> str | None:
        with self.client.post(
            MCP_PATH, data=INITIALIZE, headers=POST_HEADERS, name="initialize", catch_response=True
        ) as response:
            if self._result(response, "initialize") is None:
                return None
            session_id = header(response, "Mcp-Session-Id")
            if not session_id:
                response.failure("initialize: no Mcp-Session-Id header")
                return None
        with self.client.post(
            MCP_PATH,
            data=INITIALIZED,
            headers=self._headers(session_id),
            name="notifications/initialized",
            catch_response=True,
        ) as response:
            if response.status_code != 202:
                response.failure(f"notifications/initialized: HTTP {response.status_code}, 202 expected")
                return None
            response.success()
        return session_id

    def call(self, session_id: str, method: str, params: dict[str, Any], name: str) -> dict[str, Any] | None:
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        with self.client.post(
            MCP_PATH, data=body, headers=self._headers(session_id), name=name, catch_response=True
        ) as response:
            return self._result(response, name)

    def echo(self, session_id: str) -> bool:
        result = self.call(
            session_id, "tools/call", {"name": "echo", "arguments": {"text": ECHO_TEXT}}, "tools/call echo"
        )
        return result is not None and not result.get("isError")

    def close_session(self, session_id: str) -> bool:
        with self.client.delete(
            MCP_PATH,
            headers={"Mcp-Session-Id": session_id, "MCP-Protocol-Version": PROTOCOL_VERSION},
            name="DELETE session",
            catch_response=True,
        ) as response:
            if response.status_code not in (200, 202, 204):
                response.failure(f"DELETE: HTTP {response.status_code}")
                return False
            response.success()
        return True


class McpSessionUser(McpUser):
    """One long-lived session per user; tools/list and tools/call echo on it."""

    session_id: str | None = None

    def on_start(self) -> None:
        super().on_start()
        self.session_id = self.open_session()

    def on_stop(self) -> None:
        if self.session_id is not None:
            self.close_session(self.session_id)
            self.session_id = None

    def _session(self) -> str | None:
        # A failed initialize is retried on the next task rather than leaving the user idle for the rest of the run.
        if self.session_id is None:
            self.session_id = self.open_session()
        return self.session_id

    @task(1)
    def tools_list(self) -> None:
        session_id = self._session()
        if session_id is not None:
            self.call(session_id, "tools/list", {}, "tools/list")

    @task(10)
    def tools_call_echo(self) -> None:
        session_id = self._session()
        if session_id is not None:
            self.echo(session_id)


class PerCallSessionUser(McpUser):
    """A fresh session for every call: initialize -> initialized -> tools/call echo -> DELETE."""

    @task
    def session_per_call(self) -> None:
        start = time.perf_counter()
        session_id = self.open_session()
        ok = session_id is not None and self.echo(session_id)
        if session_id is not None:
            ok = self.close_session(session_id) and ok
        # One entry for the whole sequence as well, so locust's table shows sessions/s next to the requests.
        self.environment.events.request.fire(
            request_type="MCP",
            name="session (init → call → DELETE)",
            response_time=(time.perf_counter() - start) * 1000,
            response_length=0,
            exception=None if ok else McpFailure("a step of the session failed"),
            context={},
        )
