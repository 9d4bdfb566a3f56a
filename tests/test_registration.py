"""Registration-time behaviour: schemas, names, decorator forms and the mistakes they catch early."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import msgspec
import pytest
from ferromcp import Context, Image, Server


def definitions(server: Server) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in server.list_tools()}


def test_decorator_forms() -> None:
    server = Server("t")

    @server.tool
    def a() -> str:
        return "a"

    @server.tool()
    def b() -> str:
        return "b"

    @server.tool(name="c_renamed", description="custom", title="C")
    def c() -> str:
        """ignored docstring"""
        return "c"

    defs = definitions(server)
    assert list(defs) == ["a", "b", "c_renamed"]
    assert defs["c_renamed"]["description"] == "custom" and defs["c_renamed"]["title"] == "C"
    assert a() == "a"  # the decorator returns the function unchanged


def test_context_is_hidden_and_defaults_are_published() -> None:
    server = Server("t")

    @server.tool
    async def f(ctx: Context, x: int, y: str = "d", z: Annotated[float, msgspec.Meta(gt=0)] = 1.5) -> str:
        return ""

    schema = definitions(server)["f"]["inputSchema"]
    assert schema == {
        "type": "object",
        "properties": {
            "x": {"type": "integer"},
            "y": {"type": "string", "default": "d"},
            "z": {"type": "number", "exclusiveMinimum": 0, "default": 1.5},
        },
        "required": ["x"],
    }


@dataclasses.dataclass
class Out:
    n: int


def test_output_schemas() -> None:
    server = Server("t")

    @server.tool
    def obj() -> Out:
        return Out(1)

    @server.tool
    def wrapped() -> list[int]:
        return [1]

    @server.tool
    def content() -> Image:
        return Image(data=b"x", mime_type="image/png")

    @server.tool(structured_output=False)
    def plain() -> int:
        return 1

    defs = definitions(server)
    assert defs["obj"]["outputSchema"] == {
        "title": "Out",
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
    }
    assert defs["wrapped"]["outputSchema"]["properties"]["result"] == {"type": "array", "items": {"type": "integer"}}
    assert "outputSchema" not in defs["content"]
    assert "outputSchema" not in defs["plain"]


def test_replacing_and_removing_tools() -> None:
    server = Server("t")
    server.add_tool(lambda: 1, name="x", description="one")
    server.add_tool(lambda: 2, name="x", description="two")
    assert [d["description"] for d in server.list_tools()] == ["two"]
    server.remove_tool("x")
    assert server.list_tools() == []
    with pytest.raises(KeyError):
        server.remove_tool("x")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "has space"}, ValueError, "must be 1-128 characters"),
        ({"name": "x" * 129}, ValueError, "must be 1-128 characters"),
        ({"name": "ok", "output_schema": {"type": "array"}}, ValueError, "output_schema must be an object"),
    ],
)
def test_bad_registrations(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    server = Server("t")
    with pytest.raises(error, match=match):
        server.add_tool(lambda: 1, **kwargs)


def test_unsupported_signatures() -> None:
    server = Server("t")

    def star(*args: int) -> int:
        return 0

    def kw(**kwargs: int) -> int:
        return 0

    async def slow() -> int:
        return 0

    with pytest.raises(TypeError, match="args"):
        server.add_tool(star)
    with pytest.raises(TypeError, match="kwargs"):
        server.add_tool(kw)
    with pytest.raises(ValueError, match="blocking=True is for sync"):
        server.add_tool(slow, blocking=True)
    with pytest.raises(ValueError, match="needs a name"):
        server.add_tool(lambda: 1)


def test_invalid_schema_is_rejected_by_the_core() -> None:
    server = Server("t")
    server.add_tool(lambda x: x, name="x")
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        server._engine.add_tool(99, '{"name":"bad","inputSchema":{"type":"object","minProperties":"no"}}')
