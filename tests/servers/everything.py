"""A server exercising the whole tool API; the interop tests drive it through the official client."""

from __future__ import annotations

import asyncio
import enum
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pydantic
from ferromcp import (
    Audio,
    Completion,
    Context,
    EmbeddedResource,
    Image,
    McpError,
    Message,
    ProtocolError,
    ResourceContents,
    ResourceLink,
    ResourceNotFound,
    Server,
    ToolError,
    UrlElicitation,
    UrlElicitationRequired,
)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
# Tests of sealed request state start this server with shared keys or a short lifetime.
_keys = os.environ.get("FERROMCP_TEST_STATE_KEYS")
_ttl = os.environ.get("FERROMCP_TEST_STATE_TTL")
server = Server(
    "everything",
    "2.0.0",
    title="Everything",
    instructions="Test fixture server.",
    request_state_keys=_keys.split(",") if _keys else None,
    request_state_ttl=float(_ttl) if _ttl else None,
)
state: dict[str, Any] = {"cancelled": [], "slow_started": asyncio.Event, "interview_runs": 0}


@server.tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
def scale(x: float, factor: float = 2.0) -> float:
    """Multiply x by factor (ints are accepted as floats)."""
    assert isinstance(x, float) and isinstance(factor, float)
    return x * factor


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(TypedDict):
    street: str
    zip: str


class Tag(msgspec.Struct):
    key: str
    value: int = 0


@dataclass
class Point:
    x: int
    y: int


class Person(pydantic.BaseModel):
    name: str
    age: int = pydantic.Field(ge=0)


@dataclass
class Summary:
    color: str
    street: str
    tags: int
    point_sum: int
    person: str
    level: str
    note: str | None


@server.tool(name="typed", title="Typed arguments", annotations={"readOnlyHint": True})
def typed_tool(
    color: Color,
    address: Address,
    tags: list[Tag],
    point: Point,
    person: Person,
    level: Literal["low", "high"] = "low",
    note: str | None = None,
    count: Annotated[int, msgspec.Meta(ge=1, le=10, description="How many")] = 1,
    label: Annotated[str, "A short label"] = "x",
) -> Summary:
    """Every kind of argument type."""
    assert isinstance(color, Color) and isinstance(point, Point) and isinstance(person, Person)
    assert all(isinstance(t, Tag) for t in tags)
    return Summary(color.value, address["street"], len(tags), point.x + point.y, person.name, level, note)


@server.tool
def pydantic_field(query: Annotated[str, pydantic.Field(description="What to look for", min_length=2)]) -> str:
    """A pydantic Field in Annotated."""
    return query.upper()


@server.tool
async def slow_add(a: int, b: int) -> int:
    """Add after a short sleep (async)."""
    await asyncio.sleep(0.05)
    return a + b


@server.tool(blocking=True)
def blocking_sleep(seconds: float) -> str:
    """Sleeps on a worker thread."""
    time.sleep(seconds)
    return "slept"


@server.tool
async def progress(steps: int, ctx: Context) -> str:
    """Report progress steps, then finish."""
    for i in range(1, steps + 1):
        await ctx.report_progress(i, steps, f"step {i}")
    return f"done {ctx.progress_token!r}"


@server.tool
async def logs(ctx: Context) -> str:
    """Log at several levels."""
    await ctx.debug("debug message")
    await ctx.info({"structured": True})
    await ctx.warning("careful", logger_name="custom")
    await ctx.error("bad thing")
    return "logged"


@server.tool
async def wait_forever(ctx: Context) -> str:
    """Sleeps until cancelled; records the cancellation."""
    await ctx.info("started")
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        state["cancelled"].append(ctx.request_id)
        raise
    return "not cancelled"


@server.tool
def cancelled_ids() -> list[str]:
    """Ids of calls that observed cancellation."""
    return [str(i) for i in state["cancelled"]]


@server.tool
def request_info(ctx: Context) -> dict[str, Any]:
    """The request id and progress token as the tool sees them."""
    return {"request_id": ctx.request_id, "progress_token": ctx.progress_token}


@server.tool
def fail_tool_error() -> str:
    """Raises ToolError."""
    raise ToolError("this tool failed on purpose")


@server.tool
def fail_crash() -> str:
    """Raises an unexpected exception."""
    raise RuntimeError("kaboom")


@server.tool
def noisy() -> str:
    """print()s to stdout, which must not reach the protocol stream."""
    print("this line must go to stderr")
    return "quiet"


@server.tool
def child_fds() -> list[str]:
    """File descriptors a child process inherits (close_fds=False): only its own should be there."""
    code = "import os; print(' '.join(sorted(os.listdir('/proc/self/fd'))))"
    out = subprocess.run([sys.executable, "-c", code], close_fds=False, capture_output=True, check=True)
    return out.stdout.decode().split()


@server.tool
def image() -> Image:
    """One image."""
    return Image(data=PNG, mime_type="image/png")


@server.tool
def audio() -> Audio:
    """One audio clip from bytes."""
    return Audio(data=b"RIFF....WAVE", format="wav")


@server.tool
def mixed() -> list[Any]:
    """Several blocks of different kinds."""
    return [
        "some text",
        Image(data=PNG, mime_type="image/png"),
        EmbeddedResource("test://doc", text="embedded text", mime_type="text/plain"),
        ResourceLink("test://link", "link", mime_type="text/plain", description="a link"),
        {"k": 1},
    ]


@server.tool
def nothing() -> None:
    """Returns None."""


@server.tool
def untyped(value):  # type: ignore[no-untyped-def]
    """No annotations at all: the value comes back as JSON text."""
    return value


@server.tool(output_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]})
def explicit_output() -> dict[str, bool]:
    """Explicit output schema."""
    return {"ok": True}


@dataclass
class Contact:
    name: str
    email: str
    age: int = 0


@server.tool
async def ask_model(prompt: str, ctx: Context) -> str:
    """Sampling: asks the client's model."""
    result = await ctx.sample(prompt, max_tokens=50, system_prompt="Be brief.")
    return f"model {result.model} said: {result.text}"


@server.tool
async def ask_user(question: str, ctx: Context) -> dict[str, Any]:
    """Elicitation: asks the user for a contact."""
    answer = await ctx.elicit(question, Contact)
    if answer.action != "accept":
        return {"action": answer.action}
    contact: Contact = answer.content
    return {"action": "accept", "name": contact.name, "email": contact.email, "age": contact.age}


@server.tool
async def roots(ctx: Context) -> list[str]:
    """The client's roots."""
    return [r["uri"] for r in await ctx.list_roots()]


@dataclass
class NameForm:
    name: str


@dataclass
class ColourForm:
    colour: str


@server.tool
async def interview(ctx: Context) -> str:
    """Two questions, one after the other (on a 2026-07-28 request: two input-required rounds, and the handler
    runs again on each retry, which `interview_runs` counts)."""
    state["interview_runs"] += 1
    name = await ctx.elicit("Your name?", NameForm)
    colour = await ctx.elicit("Favourite colour?", ColourForm)
    if name.action != "accept" or colour.action != "accept":
        return "declined"
    return f"{name.content.name} likes {colour.content.colour} (run {state['interview_runs']})"


@server.tool
async def survey(ctx: Context) -> str:
    """Three questions at once (asyncio.gather: one input-required round asking all three)."""
    name, answer, roots = await asyncio.gather(
        ctx.elicit("Your name?", NameForm, key="name"),
        ctx.sample("Pick a number", max_tokens=5, key="number"),
        ctx.list_roots(key="roots"),
    )
    return f"{name.content.name} picked {answer.text} with {len(roots)} roots"


@server.tool
async def summarize_then_confirm(ctx: Context) -> str:
    """Asks the model, then the user: the model's answer must be kept (sealed) for the second round."""
    summary = await ctx.sample("Summarize the document", max_tokens=20000, key="summary")
    answer = await ctx.elicit("Publish it?", {"type": "object", "properties": {}}, key="publish")
    return f"{answer.action}: {len(summary.text or '')} characters"


@server.tool
async def ask_unanswered(ctx: Context) -> str:
    """A request the client never answers: times out."""
    try:
        await ctx.request("test/never", {}, timeout=0.3)
    except TimeoutError as exc:
        return f"timeout: {exc}"
    except McpError as exc:
        return f"error {exc.code}: {exc.message}"
    return "answered?"


@server.tool
async def reconnecting(ctx: Context) -> str:
    """Closes its SSE stream, then finishes: the client resumes with Last-Event-ID (SEP-1699)."""
    await ctx.report_progress(1, 2, "before the stream closes")
    closed = ctx.close_stream()
    await asyncio.sleep(0.2)
    await ctx.report_progress(2, 2, "while the client was away")
    return f"finished after reconnect (closed={closed})"


# -- resources, prompts, completion, tasks, list changes ----------------------------------------------------


@server.resource("test://readme", name="readme", title="Read me", mime_type="text/markdown", size=20)
def readme() -> str:
    """The project's read-me."""
    return "# Everything\nHello."


@server.resource("test://logo", name="logo", mime_type="image/png")
def logo() -> bytes:
    """A tiny PNG."""
    import base64

    return base64.b64decode(PNG)


@server.resource("test://items/{item_id}", name="item", mime_type="application/json")
def item(item_id: int, uri: str) -> dict[str, Any]:
    """One item by numeric id (404-like -32002 for negative ids)."""
    if item_id < 0:
        raise ResourceNotFound(f"no item {item_id}")
    return {"id": item_id, "uri": uri, "double": item_id * 2}


@server.resource("test://multi", name="multi")
def multi() -> list[ResourceContents]:
    """Two contents in one read."""
    return [ResourceContents(text="part one", mime_type="text/plain"), ResourceContents(blob=b"\x00\x01")]


@server.prompt(title="Greeting")
def greet(name: Annotated[str, "Who to greet"], style: str = "warm") -> str:
    """Greets someone."""
    return f"Say a {style} hello to {name}."


@server.prompt
async def briefing(topic: str, ctx: Context) -> str:
    """Asks who the briefing is for before writing it."""
    audience = await ctx.elicit(f"Who is the briefing on {topic} for?", NameForm, key="audience")
    return f"Brief {audience.content.name} on {topic}."


@server.resource("test://vault/{entry}", name="vault", mime_type="text/plain")
async def vault(entry: str, ctx: Context) -> str:
    """A resource read only after the user approves it."""
    approve = await ctx.elicit(f"Open vault entry {entry}?", {"type": "object", "properties": {}}, key="approve")
    return f"secret {entry}" if approve.action == "accept" else "sealed"


@server.prompt
def review(code: str) -> list[Message]:
    """A two-turn code review prompt with an embedded resource and an image."""
    return [
        Message(EmbeddedResource("test://code", text=code, mime_type="text/x-python")),
        Message("Looks fine so far.", role="assistant"),
        Message(Image(data=PNG, mime_type="image/png")),
    ]


@server.completion
def complete(ref: Any, argument: Any, context: Any) -> Completion | list[str]:
    """Completes prompt arguments and template variables."""
    if argument.name == "name":
        names = ["Ada", "Alan", "Grace", "Guido"]
        return [n for n in names if n.lower().startswith(argument.value.lower())]
    if argument.name == "item_id":
        return Completion([str(i) for i in range(150)], total=150, has_more=True)
    return []


@server.tool(task=True)
async def long_job(seconds: float, ctx: Context) -> str:
    """Runs long enough to be polled as a task."""
    await ctx.report_progress(0, 1)
    await asyncio.sleep(seconds)
    return f"job done after {seconds}s"


@server.tool(task="required")
async def failing_job() -> str:
    """A task that fails."""
    raise ToolError("the job failed")


@server.tool(task=True)
async def approve_job(item: str, ctx: Context) -> str:
    """A task that asks the user to approve before it finishes (2026-07-28: through the task's inputRequests)."""
    await ctx.report_progress(0, 1, f"waiting for approval of {item}")
    answer = await ctx.elicit(f"Approve {item}?", {"type": "object", "properties": {"ok": {"type": "boolean"}}})
    return f"{item}: {'approved' if (answer.content or {}).get('ok') else 'rejected'}"


@server.tool(task=True)
async def crashing_job() -> str:
    """A task whose request fails (not the tool): it ends failed."""
    raise ProtocolError(-32603, "the worker crashed")


@server.tool(task="required", defer_task=True)
async def named_job(ctx: Context) -> str:
    """Asks for a name by an input-required round trip first, then becomes a task."""
    answer = await ctx.elicit("Whose job?", NameForm, key="owner")
    await ctx.start_task()
    await asyncio.sleep(0.05)
    return f"job of {answer.content.name} done"


@server.tool(output_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
def wrong_output() -> dict[str, Any]:
    """Returns structured content that does not match its output schema."""
    return {"n": "not a number"}


@server.tool
def needs_login() -> str:
    """Requires a URL elicitation first."""
    raise UrlElicitationRequired([UrlElicitation("https://example.com/login", "Please sign in", "login-1")])


@server.tool
async def open_url(ctx: Context) -> str:
    """Asks the client to open a URL (URL-mode elicitation) and reports completion."""
    answer = await ctx.elicit_url("Authorize access", "https://example.com/authorize", elicitation_id="auth-7")
    await ctx.notify_elicitation_complete("auth-7")
    return answer.action


@server.tool
def add_dynamic_tool(name: str) -> str:
    """Registers a new tool at runtime (clients get notifications/tools/list_changed)."""
    server.add_tool(lambda: f"I am {name}", name=name, description="added at runtime")
    return "added"


@server.tool
def remove_dynamic_prompt() -> str:
    """Removes the review prompt at runtime (notifications/prompts/list_changed)."""
    server.remove_prompt("review")
    return "removed"


@server.tool
async def touch_readme() -> int:
    """Tells subscribers test://readme changed; returns how many were told."""
    return await server.notify_resource_updated("test://readme")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        options: dict[str, Any] = {}
        if "--json-response" in sys.argv:
            options["json_response"] = True
        if "--workers" in sys.argv:
            options["workers"] = int(sys.argv[sys.argv.index("--workers") + 1])
        if "--redis-url" in sys.argv:
            options["redis_url"] = sys.argv[sys.argv.index("--redis-url") + 1]
        server.run("http", host="127.0.0.1", port=int(sys.argv[2]), **options)
    else:
        server.run()
