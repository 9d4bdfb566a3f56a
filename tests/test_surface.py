"""Resources, templates, subscriptions, prompts, completion, list changes, tasks, output schemas and URL
elicitation — each through the official MCP Python SDK client, over stdio and over Streamable HTTP, with every
message the server sends validated against the official schema of the negotiated version."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import ClientSession, types
from mcp.shared.exceptions import MCPError

from tests.support.procs import HttpServerProcess
from tests.support.schema import check_transcript
from tests.support.stdio import RawServer, connect
from tests.test_http_interop import http_session


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_session(transport: str, tmp_path: Path) -> Iterator[Any]:
    servers: list[HttpServerProcess] = []

    @contextlib.asynccontextmanager
    async def opener(**kwargs: Any) -> AsyncIterator[ClientSession]:
        if transport == "stdio":
            async with connect(tmp_path, **kwargs) as (session, _):
                yield session
        else:
            if not servers:
                servers.append(HttpServerProcess())
            async with http_session(servers[0].url, **kwargs) as (session, _):
                yield session

    try:
        yield opener
    finally:
        for server in servers:
            server.stop()


def text_of(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_capabilities(open_session: Any) -> None:
    async with open_session() as session:
        caps = session.initialize_result.capabilities
        assert caps.resources is not None and caps.resources.subscribe and caps.resources.list_changed
        assert caps.prompts is not None and caps.prompts.list_changed
        assert caps.completions is not None
        assert caps.tasks is not None


async def test_resources_and_templates(open_session: Any) -> None:
    async with open_session() as session:
        resources = {str(r.uri): r for r in (await session.list_resources()).resources}
        assert resources["test://readme"].title == "Read me"
        assert resources["test://readme"].mime_type == "text/markdown"
        assert resources["test://readme"].size == 20
        assert resources["test://readme"].description == "The project's read-me."
        templates = (await session.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == ["test://items/{item_id}", "test://vault/{entry}"]

        text = (await session.read_resource("test://readme")).contents[0]
        assert isinstance(text, types.TextResourceContents)
        assert (text.text, text.mime_type) == ("# Everything\nHello.", "text/markdown")
        blob = (await session.read_resource("test://logo")).contents[0]
        assert isinstance(blob, types.BlobResourceContents) and blob.mime_type == "image/png"
        assert base64.b64decode(blob.blob).startswith(b"\x89PNG")

        item = (await session.read_resource("test://items/21")).contents[0]
        assert isinstance(item, types.TextResourceContents) and item.mime_type == "application/json"
        assert json.loads(item.text) == {"id": 21, "uri": "test://items/21", "double": 42}
        multi = (await session.read_resource("test://multi")).contents
        assert len(multi) == 2

        with pytest.raises(MCPError) as missing:
            await session.read_resource("test://nothing/here")
        assert missing.value.error.code == -32002
        with pytest.raises(MCPError) as raised:
            await session.read_resource("test://items/-1")
        assert raised.value.error.code == -32002
        with pytest.raises(MCPError) as bad_var:
            await session.read_resource("test://items/abc")
        assert bad_var.value.error.code == -32603


# The 2.x client flags resources/subscribe as removed by 2026-07-28; legacy sessions still have it.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_subscriptions_and_updates(open_session: Any) -> None:
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async with open_session(message_handler=on_message) as session:
        assert (await session.call_tool("touch_readme", {})).structured_content == {"result": 0}
        await session.subscribe_resource("test://readme")
        assert (await session.call_tool("touch_readme", {})).structured_content == {"result": 1}
        with anyio.fail_after(5):
            while not updates:
                await asyncio.sleep(0.02)
        assert updates == ["test://readme"]
        await session.unsubscribe_resource("test://readme")
        assert (await session.call_tool("touch_readme", {})).structured_content == {"result": 0}


async def test_prompts(open_session: Any) -> None:
    async with open_session() as session:
        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        greet = prompts["greet"]
        assert greet.title == "Greeting" and greet.description == "Greets someone."
        assert [(a.name, a.required, a.description) for a in greet.arguments or []] == [
            ("name", True, "Who to greet"),
            ("style", False, None),
        ]
        got = await session.get_prompt("greet", {"name": "Ada"})
        assert got.description == "Greets someone."
        assert got.messages[0].role == "user"
        assert isinstance(got.messages[0].content, types.TextContent)
        assert got.messages[0].content.text == "Say a warm hello to Ada."
        review = await session.get_prompt("review", {"code": "print(1)"})
        kinds = [(m.role, m.content.type) for m in review.messages]
        assert kinds == [("user", "resource"), ("assistant", "text"), ("user", "image")]
        with pytest.raises(MCPError) as missing:
            await session.get_prompt("greet", {})
        assert missing.value.error.code == -32602
        with pytest.raises(MCPError) as unknown:
            await session.get_prompt("nope", {})
        assert unknown.value.error.code == -32602


async def test_completion(open_session: Any) -> None:
    async with open_session() as session:
        names = await session.complete(
            types.PromptReference(type="ref/prompt", name="greet"), {"name": "name", "value": "g"}
        )
        assert names.completion.values == ["Grace", "Guido"]
        assert names.completion.has_more is False
        ids = await session.complete(
            types.ResourceTemplateReference(type="ref/resource", uri="test://items/{item_id}"),
            {"name": "item_id", "value": ""},
        )
        assert len(ids.completion.values) == 100
        assert ids.completion.total == 150 and ids.completion.has_more is True


async def test_list_changed_notifications(open_session: Any) -> None:
    seen: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, (types.ToolListChangedNotification, types.PromptListChangedNotification)):
            seen.append(message.method)

    async with open_session(message_handler=on_message) as session:
        name = f"dyn_{id(seen)}"
        assert text_of(await session.call_tool("add_dynamic_tool", {"name": name})) == "added"
        with anyio.fail_after(5):
            while "notifications/tools/list_changed" not in seen:
                await asyncio.sleep(0.02)
        assert name in {t.name for t in (await session.list_tools()).tools}
        assert text_of(await session.call_tool(name, {})) == f"I am {name}"
        await session.call_tool("remove_dynamic_prompt", {})
        with anyio.fail_after(5):
            while "notifications/prompts/list_changed" not in seen:
                await asyncio.sleep(0.02)
        assert "review" not in {p.name for p in (await session.list_prompts()).prompts}


class RawHttp:
    """A minimal raw client for one HTTP session (JSON or SSE answers), recording every server message."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx2.Client(timeout=30)
        self.headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        self.received: list[tuple[str, str]] = []
        self.sent: list[tuple[str, str]] = []

    def send(self, msg: dict[str, Any]) -> list[Any]:
        body = json.dumps(msg)
        self.sent.append(("in", body))
        response = self.client.post(self.url, content=body, headers=self.headers)
        if "mcp-session-id" in response.headers:
            self.headers["Mcp-Session-Id"] = response.headers["mcp-session-id"]
            self.headers["MCP-Protocol-Version"] = "2025-11-25"
        if response.status_code == 202:
            return []
        if response.headers["content-type"].startswith("text/event-stream"):
            lines = [line[6:] for line in response.text.split("\n") if line.startswith("data: ") and line[6:].strip()]
        else:
            lines = [response.text]
        self.received += [("out", line + "\n") for line in lines]
        return [json.loads(line) for line in lines]

    def close(self) -> None:
        self.client.close()


def _task_rounds(request: Any) -> None:
    """Task-augmented calls end to end. Raw, because the official 2.3 client validates every tools/call result
    as a CallToolResult and so cannot receive the CreateTaskResult of the 2025-11-25 task protocol."""

    def call(i: int, method: str, params: dict[str, Any] | None = None) -> Any:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": i, "method": method}
        if params is not None:
            msg["params"] = params
        return next(m for m in request(msg) if m.get("id") == i)

    init = call(
        0,
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    assert init["result"]["capabilities"]["tasks"] == {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}
    request({"jsonrpc": "2.0", "method": "notifications/initialized"})
    tools = {t["name"]: t for t in call(1, "tools/list")["result"]["tools"]}
    assert tools["long_job"]["execution"] == {"taskSupport": "optional"}
    created = call(2, "tools/call", {"name": "long_job", "arguments": {"seconds": 0.3}, "task": {"ttl": 60000}})
    task = created["result"]["task"]
    assert task["status"] == "working" and task["ttl"] == 60000
    got = call(3, "tasks/get", {"taskId": task["taskId"]})["result"]
    assert got["status"] == "working" and got["pollInterval"] > 0
    result = call(4, "tasks/result", {"taskId": task["taskId"]})["result"]  # waits for the task
    assert result["content"][0]["text"] == "job done after 0.3s"
    assert result["_meta"]["io.modelcontextprotocol/related-task"] == {"taskId": task["taskId"]}
    listed = call(5, "tasks/list")["result"]["tasks"]
    assert [(t["taskId"], t["status"]) for t in listed] == [(task["taskId"], "completed")]

    failing = call(6, "tools/call", {"name": "failing_job", "arguments": {}, "task": {}})["result"]["task"]
    failed = call(7, "tasks/result", {"taskId": failing["taskId"]})["result"]
    assert failed["isError"] is True and failed["content"][0]["text"] == "the job failed"
    status = call(8, "tasks/get", {"taskId": failing["taskId"]})["result"]
    assert (status["status"], status["statusMessage"]) == ("failed", "the job failed")

    slow = call(9, "tools/call", {"name": "long_job", "arguments": {"seconds": 30}, "task": {}})["result"]["task"]
    assert call(10, "tasks/cancel", {"taskId": slow["taskId"]})["result"]["status"] == "cancelled"
    assert call(11, "tasks/cancel", {"taskId": slow["taskId"]})["error"]["code"] == -32602
    assert call(12, "tools/call", {"name": "failing_job", "arguments": {}})["error"]["code"] == -32601
    assert call(13, "tools/call", {"name": "echo", "arguments": {"text": "x"}, "task": {}})["error"]["code"] == -32601
    assert call(14, "tasks/get", {"taskId": "unknown"})["error"]["code"] == -32602


def test_tasks_stdio() -> None:
    raw = RawServer()
    try:

        def request(msg: dict[str, Any]) -> list[Any]:
            raw.send(msg)
            if "id" not in msg:
                return []
            out = [raw.recv()]
            while out[-1].get("id") != msg["id"]:
                out.append(raw.recv())
            return out

        _task_rounds(request)
    finally:
        raw.close()
    check_transcript(raw.transcript(), "2025-11-25")


def test_tasks_http(http_server: HttpServerProcess) -> None:
    client = RawHttp(http_server.url)
    try:
        _task_rounds(client.send)
    finally:
        client.close()
    check_transcript(client.sent + client.received, "2025-11-25")


async def test_output_schema_is_enforced(open_session: Any) -> None:
    async with open_session() as session:
        result = await session.call_tool("wrong_output", {})
        assert result.is_error
        assert "outputSchema" in text_of(result) and "/n" in text_of(result)


async def test_url_elicitation(open_session: Any) -> None:
    asked: list[types.ElicitRequestURLParams] = []
    completed: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ElicitCompleteNotification):
            completed.append(message.params.elicitation_id)

    async def elicitation(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        asked.append(params)
        return types.ElicitResult(action="accept")

    async with open_session(elicitation_callback=elicitation, message_handler=on_message) as session:
        with pytest.raises(MCPError) as required:
            await session.call_tool("needs_login", {})
        assert required.value.error.code == -32042
        assert required.value.error.data == {
            "elicitations": [
                {
                    "mode": "url",
                    "elicitationId": "login-1",
                    "url": "https://example.com/login",
                    "message": "Please sign in",
                }
            ]
        }
        assert text_of(await session.call_tool("open_url", {})) == "accept"
        with anyio.fail_after(5):
            while not completed:
                await asyncio.sleep(0.02)
    assert [(p.url, p.elicitation_id, p.message) for p in asked] == [
        ("https://example.com/authorize", "auth-7", "Authorize access")
    ]
    assert completed == ["auth-7"]
