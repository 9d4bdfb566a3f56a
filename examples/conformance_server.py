"""Every fixture the official MCP conformance suite (`@modelcontextprotocol/conformance`) expects of a server.

    python examples/conformance_server.py --port 3000
    npx conformance server --url http://127.0.0.1:3000/mcp --suite all

Tool, resource and prompt names and contents follow the suite's scenarios (see the suite's
`src/scenarios/server/*.ts` and its reference "everything" server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from ferromcp import (
    Audio,
    Context,
    EmbeddedResource,
    Header,
    Image,
    Message,
    ProtocolError,
    ResourceContents,
    Server,
    ToolError,
)

TEST_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
TEST_WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="


@contextlib.asynccontextmanager
async def _watching(_: Server) -> AsyncIterator[None]:
    """While serving: tells subscribers the watched resource changed, every 3 s (as the reference server does)."""
    watcher = asyncio.create_task(_watch_resource())
    try:
        yield
    finally:
        watcher.cancel()


server = Server("ferromcp-conformance", "1.0.0", title="ferromcp conformance server", lifespan=_watching)


# -- tools ---------------------------------------------------------------------------------------------------


@server.tool
def test_simple_text() -> str:
    """Returns a simple text response."""
    return "This is a simple text response for testing."


@server.tool
def test_image_content() -> Image:
    """Returns an image."""
    return Image(data=TEST_PNG, mime_type="image/png")


@server.tool
def test_audio_content() -> Audio:
    """Returns audio."""
    return Audio(data=TEST_WAV, mime_type="audio/wav")


@server.tool
def test_embedded_resource() -> EmbeddedResource:
    """Returns an embedded resource."""
    return EmbeddedResource(
        "test://embedded-resource", text="This is an embedded resource content.", mime_type="text/plain"
    )


@server.tool
def test_multiple_content_types() -> list[Any]:
    """Returns text, an image and an embedded resource."""
    return [
        "Multiple content types test:",
        Image(data=TEST_PNG, mime_type="image/png"),
        EmbeddedResource(
            "test://mixed-content-resource", text='{"test":"data","value":123}', mime_type="application/json"
        ),
    ]


@server.tool
async def test_tool_with_logging(ctx: Context) -> str:
    """Sends log messages while it runs."""
    for text in ("Tool execution started", "Tool processing data", "Tool execution completed"):
        await ctx.info(text)
        await asyncio.sleep(0.05)
    return "Tool with logging executed successfully"


@server.tool
def test_error_handling() -> str:
    """Always fails."""
    raise ToolError("This tool intentionally returns an error for testing")


@server.tool
async def test_tool_with_progress(ctx: Context) -> str:
    """Reports progress 0, 50, 100 of 100."""
    for done in (0, 50, 100):
        await ctx.report_progress(done, 100, f"Completed step {done // 50 + 1} of 3")
        await asyncio.sleep(0.05)
    return f"Progress tool completed (token {ctx.progress_token!r})"


@server.tool
async def test_sampling(prompt: str, ctx: Context) -> str:
    """Asks the client's model to answer a prompt."""
    result = await ctx.sample(prompt, max_tokens=100)
    return f"LLM response: {result.text}"


@server.tool
async def test_elicitation(message: str, ctx: Context) -> str:
    """Asks the user for input."""
    schema = {"type": "object", "properties": {"response": {"type": "string", "description": "Your response"}}}
    result = await ctx.elicit(message, schema)
    return f"User response: action={result.action}, content={result.content}"


@server.tool
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Elicitation whose fields all carry defaults (SEP-1034)."""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    }
    result = await ctx.elicit("Please review and update the form fields with defaults", schema)
    return f"Elicitation completed: action={result.action}, content={result.content}"


@server.tool
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Elicitation with every enum shape of SEP-1330."""
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {
                "type": "string",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]
                },
            },
        },
        "required": [],
    }
    result = await ctx.elicit("Please select options from the enum fields", schema)
    return f"Elicitation completed: action={result.action}, content={result.content}"


@server.tool(
    input_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "address",
                "type": "object",
                "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
            }
        },
        "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
        "allOf": [{"anyOf": [{"required": ["name"]}, {"not": {"required": ["name"]}}]}],
        "if": {"required": ["name"]},
        "then": {"properties": {"name": {"minLength": 1}}},
        "else": {},
        "additionalProperties": False,
    }
)
def json_schema_2020_12_tool(**arguments: Any) -> str:
    """A tool whose input schema uses JSON Schema 2020-12 features ($schema, $defs with $anchor, allOf/anyOf,
    if/then/else, additionalProperties), all kept verbatim in tools/list (SEP-2106)."""
    return f"JSON Schema 2020-12 tool called with: {arguments}"


@server.tool
async def test_reconnection(ctx: Context) -> str:
    """Closes its SSE stream before answering: the client reconnects and resumes (SEP-1699)."""
    ctx.close_stream()
    await asyncio.sleep(0.1)
    return "Reconnection test completed"


# -- resources -----------------------------------------------------------------------------------------------


@server.resource("test://static-text", name="Static Text Resource", mime_type="text/plain")
def static_text() -> str:
    """A static text resource for testing."""
    return "This is the content of the static text resource."


@server.resource("test://static-binary", name="Static Binary Resource", mime_type="image/png")
def static_binary() -> ResourceContents:
    """A static binary resource (image) for testing."""
    return ResourceContents(blob=TEST_PNG, mime_type="image/png")


@server.resource("test://watched-resource", name="Watched Resource", mime_type="text/plain")
def watched() -> str:
    """A resource clients can subscribe to."""
    return "This is a watched resource."


@server.resource("test://template/{id}/data", name="Resource Template", mime_type="application/json")
def template_data(id: str) -> dict[str, Any]:
    """A resource template with a parameter."""
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


# -- prompts -------------------------------------------------------------------------------------------------


@server.prompt
def test_simple_prompt() -> str:
    """A simple prompt without arguments."""
    return "This is a simple prompt for testing."


@server.prompt
def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
    """A prompt with required arguments."""
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@server.prompt
def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:
    """A prompt that includes an embedded resource."""
    resource = EmbeddedResource(resourceUri, text="Embedded resource content for testing.", mime_type="text/plain")
    return [Message(resource), Message("Please process the embedded resource above.")]


@server.prompt
def test_prompt_with_image() -> list[Message]:
    """A prompt that includes an image."""
    return [Message(Image(data=TEST_PNG, mime_type="image/png")), Message("Please analyze the image above.")]


# -- 2026-07-28: stateless diagnostics, routing headers, input-required round trips ----------------------------

NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@server.tool
async def test_missing_capability(ctx: Context) -> str:
    """Needs sampling: a request that did not declare it is refused with -32021."""
    answer = await ctx.sample("Say hello.", max_tokens=20, key="hello")
    return answer.text or ""


@server.tool
async def test_streaming_elicitation(ctx: Context) -> str:
    """Asks the user for a name: on a 2026-07-28 request an input-required result, never a request."""
    answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="name")
    return f"Hello, {(answer.content or {}).get('name')}!"


@server.tool
async def test_logging_tool(ctx: Context) -> str:
    """Logs three messages; they reach the client only if the request asked for a log level."""
    for step in ("starting", "working", "done"):
        await ctx.info(f"test_logging_tool {step}")
    return "Logged three messages."


_toggled: dict[str, bool] = {"tool": False, "prompt": False}


def _dynamic() -> str:
    """A tool or prompt that comes and goes (list-changed notifications)."""
    return "I come and go."


@server.tool
def test_trigger_tool_change() -> str:
    """Adds or removes a tool, so listen streams hear notifications/tools/list_changed."""
    if _toggled["tool"]:
        server.remove_tool("test_dynamic_tool")
    else:
        server.add_tool(_dynamic, name="test_dynamic_tool")
    _toggled["tool"] = not _toggled["tool"]
    return "The tool list changed."


@server.tool
def test_trigger_prompt_change() -> str:
    """Adds or removes a prompt, so listen streams hear notifications/prompts/list_changed."""
    if _toggled["prompt"]:
        server.remove_prompt("test_dynamic_prompt")
    else:
        server.add_prompt(_dynamic, name="test_dynamic_prompt")
    _toggled["prompt"] = not _toggled["prompt"]
    return "The prompt list changed."


@server.tool
def test_x_mcp_header(region: Annotated[str, Header("Region")]) -> str:
    """Mirrors `region` in the Mcp-Param-Region header (SEP-2243); the server checks that they match."""
    return f"Region: {region}"


@server.tool
async def test_input_required_result_elicitation(ctx: Context) -> str:
    """One elicitation round trip."""
    answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return f"Hello, {(answer.content or {}).get('name')}!"


@server.tool
async def test_input_required_result_sampling(ctx: Context) -> str:
    """One sampling round trip."""
    answer = await ctx.sample("What is the capital of France?", max_tokens=100, key="capital_question")
    return f"The model said: {answer.text}"


@server.tool
async def test_input_required_result_list_roots(ctx: Context) -> str:
    """One roots/list round trip."""
    roots = await ctx.list_roots(key="client_roots")
    return "Roots: " + ", ".join(str(r.get("uri")) for r in roots)


@server.tool
async def test_input_required_result_request_state(ctx: Context) -> str:
    """A round trip whose answer only counts with the sealed requestState it came back with."""
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    answer = await ctx.elicit("Please confirm", schema, key="confirm")
    return f"state-ok: confirmed={(answer.content or {}).get('ok')}"


@server.tool
async def test_input_required_result_multiple_inputs(ctx: Context) -> str:
    """Elicitation, sampling and roots asked together in one round (asyncio.gather)."""
    name, greeting, roots = await asyncio.gather(
        ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name"),
        ctx.sample("Generate a greeting", max_tokens=50, key="greeting"),
        ctx.list_roots(key="client_roots"),
    )
    return f"{greeting.text} {(name.content or {}).get('name')} ({len(roots)} roots)"


@server.tool
async def test_input_required_result_multi_round(ctx: Context) -> str:
    """Two rounds, one after the other: the first answer rides in the sealed state of the second."""
    name = await ctx.elicit("Step 1: What is your name?", NAME_SCHEMA, key="step1")
    color_schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    color = await ctx.elicit("Step 2: What is your favorite color?", color_schema, key="step2")
    return f"{(name.content or {}).get('name')} likes {(color.content or {}).get('color')}."


@server.tool
async def test_input_required_result_tampered_state(ctx: Context) -> str:
    """A round trip with sealed state: an altered requestState is refused with -32602."""
    answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return f"Hello, {(answer.content or {}).get('name')}!"


@server.tool
async def test_input_required_result_capabilities(ctx: Context) -> str:
    """Asks only for what the request's client capabilities allow."""
    asks: list[Any] = []
    if ctx.client_capability("sampling") is not None:
        asks.append(ctx.sample("What is 2 + 2?", max_tokens=10, key="math"))
    if ctx.client_capability("elicitation") is not None:
        asks.append(ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name"))
    answers = await asyncio.gather(*asks)
    return f"Received {len(answers)} answers."


@server.prompt
async def test_input_required_result_prompt(ctx: Context) -> list[Message]:
    """A prompt that asks the user for context first."""
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    answer = await ctx.elicit("What context should the prompt use?", schema, key="user_context")
    return [Message(f"Use this context: {(answer.content or {}).get('context')}")]


# -- the tasks extension (io.modelcontextprotocol/tasks, SEP-2663) ------------------------------------------


@server.tool
def greet(name: str) -> str:
    """Greets someone at once (never a task)."""
    return f"Hello, {name}!"


@server.tool(task=True)
async def slow_compute(ctx: Context, seconds: float, label: str = "job") -> str:
    """Works for `seconds` seconds as a task; cancelled tasks stop at once."""
    await ctx.report_progress(0, 1, f"{label}: working")
    await asyncio.sleep(seconds)
    return f"{label} finished after {seconds} s"


@server.tool(task="required")
async def failing_job() -> str:
    """Runs only as a task, and fails as a tool (the task completes with isError)."""
    await asyncio.sleep(1)
    raise ToolError("the job failed")


@server.tool(task=True)
async def protocol_error_job() -> str:
    """Fails the request itself (the task ends failed)."""
    await asyncio.sleep(0.1)
    raise ProtocolError(-32603, "the job crashed")


CONFIRM_SCHEMA = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}


@server.tool(task=True)
async def confirm_delete(filename: str, ctx: Context) -> str:
    """Asks the user to confirm through the task (input_required, answered with tasks/update)."""
    answer = await ctx.elicit(f"Delete {filename}?", CONFIRM_SCHEMA)
    confirmed = answer.action == "accept" and bool((answer.content or {}).get("confirm"))
    return f"Deleted {filename}" if confirmed else f"Kept {filename}"


@server.tool(task=True)
async def multi_input(ctx: Context) -> str:
    """Two questions pending at once in the task."""
    first, second = await asyncio.gather(
        ctx.elicit("First value?", {"type": "object", "properties": {"value": {"type": "string"}}}),
        ctx.elicit("Second value?", {"type": "object", "properties": {"value": {"type": "string"}}}),
    )
    return f"{(first.content or {}).get('value')} and {(second.content or {}).get('value')}"


@server.tool(task="required", defer_task=True)
async def test_tool_with_task(ctx: Context) -> str:
    """Asks for a name by an input-required round trip, then runs on as a task."""
    answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    await ctx.start_task()
    await asyncio.sleep(0.2)
    return f"Hello, {(answer.content or {}).get('name')}, from a task!"


# -- skills (io.modelcontextprotocol/skills, SEP-2640) --------------------------------------------------------

server.add_skills(Path(__file__).resolve().parent / "skills")


# -- completion ----------------------------------------------------------------------------------------------


@server.completion
def complete(ref: Any, argument: Any, context: Any) -> list[str]:
    """Suggests argument values that start with what was typed."""
    candidates = {"arg1": ["test", "testing", "tested"], "arg2": ["value", "values"], "id": ["1", "2", "123"]}
    return [c for c in candidates.get(argument.name, []) if c.startswith(argument.value)]


async def _watch_resource() -> None:
    while True:
        await asyncio.sleep(3)
        await server.notify_resource_updated("test://watched-resource")


async def main(host: str, port: int) -> None:
    await server.serve_http(host, port, "/mcp")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=1, help="worker processes on the port (with --redis-url)")
    parser.add_argument("--redis-url", help="share sessions, notifications and tasks through this Redis")
    args = parser.parse_args()
    if args.workers > 1 or args.redis_url:
        server.run("http", host=args.host, port=args.port, workers=args.workers, redis_url=args.redis_url)
        sys.exit(0)
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(args.host, args.port))
