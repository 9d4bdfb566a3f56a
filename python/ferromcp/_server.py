"""`Server`: register tools with decorators, then serve them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Literal, TypeVar, overload

import orjson

from ._core import Engine, StdioServer
from ._runtime import Dispatcher
from ._tools import ToolSpec, build_tool

__all__ = ["Server"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024


class Server:
    """An MCP server. Register tools with `@server.tool`, then `server.run()` serves them (stdio by default)."""

    def __init__(
        self,
        name: str = "ferromcp",
        version: str = "0.1.0",
        *,
        title: str | None = None,
        description: str | None = None,
        instructions: str | None = None,
        website_url: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        page_size: int = 100,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        info: dict[str, Any] = {"name": name, "version": version}
        for key, value in (("title", title), ("description", description), ("websiteUrl", website_url)):
            if value is not None:
                info[key] = value
        if icons:
            info["icons"] = icons
        self.name = name
        self.version = version
        self.instructions = instructions
        self.max_message_size = max_message_size
        self._engine = Engine(orjson.dumps(info).decode(), instructions, page_size)
        self._tools_by_id: dict[int, ToolSpec] = {}
        self._tool_ids: dict[str, int] = {}
        self._next_id = 0

    # -- tools -------------------------------------------------------------------------------------------------

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        structured_output: bool | None = None,
        blocking: bool = False,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        structured_output: bool | None = None,
        blocking: bool = False,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> F | Callable[[F], F]:
        """Registers a function as a tool: `@server.tool`, `@server.tool()` or `@server.tool(name=..., ...)`.

        The input schema comes from the type hints, the description from the docstring. A parameter annotated
        `Context` is injected. `blocking=True` runs a sync function on a worker thread instead of the loop.
        """

        def register(func: F) -> F:
            self.add_tool(
                func,
                name=name,
                title=title,
                description=description,
                annotations=annotations,
                output_schema=output_schema,
                structured_output=structured_output,
                blocking=blocking,
                icons=icons,
                meta=meta,
            )
            return func

        return register(fn) if fn is not None else register

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: dict[str, Any] | None = None,
        output_schema: dict[str, Any] | None = None,
        structured_output: bool | None = None,
        blocking: bool = False,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Registers `fn` as a tool (the non-decorator form of `tool`). A tool of the same name is replaced."""
        spec = build_tool(
            self._next_id,
            fn,
            name=name,
            title=title,
            description=description,
            annotations=annotations,
            output_schema=output_schema,
            structured_output=structured_output,
            blocking=blocking,
            icons=icons,
            meta=meta,
        )
        self._engine.add_tool(spec.id, orjson.dumps(spec.definition).decode(), spec.accepts)
        self._next_id += 1
        old = self._tool_ids.pop(spec.name, None)
        if old is not None:
            del self._tools_by_id[old]
        self._tools_by_id[spec.id] = spec
        self._tool_ids[spec.name] = spec.id

    def remove_tool(self, name: str) -> None:
        """Removes a tool. Raises KeyError if there is none of that name."""
        tool_id = self._tool_ids.pop(name)
        del self._tools_by_id[tool_id]
        self._engine.remove_tool(name)

    def list_tools(self) -> list[dict[str, Any]]:
        """The Tool definitions as `tools/list` sends them."""
        return [spec.definition for spec in self._tools_by_id.values()]

    # -- serving -----------------------------------------------------------------------------------------------

    def run(self, transport: Literal["stdio"] = "stdio") -> None:
        """Serves until the client goes away. Blocks. stdio is the default (and, for now, the only) transport."""
        if transport != "stdio":
            raise ValueError(f"unknown transport {transport!r}; available: 'stdio'")
        _run_loop(self.run_stdio_async())

    async def run_stdio_async(self) -> None:
        """Serves MCP over this process's stdin/stdout until stdin closes and in-flight calls have finished.

        While serving, file descriptor 1 and `sys.stdout` point at stderr, so a stray `print()` cannot corrupt
        the protocol stream; the real stdout carries only MCP messages.
        """
        with _protocol_stdout() as out_fd:
            await self.serve_stdio(0, out_fd)

    async def serve_stdio(self, input_fd: int, output_fd: int) -> None:
        """Serves MCP over two file descriptors (duplicated; the caller keeps and closes its own)."""
        transport = StdioServer(self._engine, input_fd, output_fd, self.max_message_size)
        dispatcher = Dispatcher(self, transport)
        dispatcher.start()
        try:
            await dispatcher.finished
        finally:
            dispatcher.stop()
            transport.close()  # flushes queued output; releases the GIL while it waits


@contextlib.contextmanager
def _protocol_stdout() -> Generator[int, None, None]:
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield saved
    finally:
        sys.stdout = saved_stdout
        os.dup2(saved, 1)
        os.close(saved)


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(main)
    else:
        uvloop.run(main)
