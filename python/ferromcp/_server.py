"""`Server`: register tools with decorators, then serve them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import secrets
import signal
import sys
from collections.abc import AsyncGenerator, Callable, Coroutine, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypedDict, TypeVar, overload

import orjson

from . import _workers
from ._caching import CacheHint, cache_hint_json, cache_hints_json
from ._content import Annotations
from ._core import DefinitionError, Engine, HttpServer, StdioServer
from ._custom import build_method
from ._logging import sync_core_level
from ._rate_limit import RateLimit
from ._runtime import Dispatcher
from ._skills import EXTENSION as SKILLS_EXTENSION
from ._skills import Skill, Skills, load_skill_dir, skill_from_text
from ._surface import PromptSpec, ResourceNotFound, ResourceSpec, build_completion, build_prompt, build_resource
from ._tools import Handler, ToolSpec, build_tool
from .audit import AuditRecord, JsonLinesAudit
from .auth import JWTVerifier, TokenVerifier, http_auth_options

__all__ = ["Server"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
# Seconds a tool may run (see `Server(tool_timeout=)`): well past what clients wait by default (60 s in the
# TypeScript SDK), so only a handler that is stuck is cut off.
DEFAULT_TOOL_TIMEOUT = 300.0
_logger = logging.getLogger("ferromcp")


class HttpOptions(TypedDict, total=False):
    """Options of the Streamable HTTP transport (all optional)."""

    json_response: bool
    """Answer every POST with JSON, never SSE; progress, logs and requests to the client go to the GET stream."""
    max_request_body_size: int
    """Bytes; a larger POST body gets 413. Default 4 MiB."""
    max_sessions: int
    """Sessions beyond this get 503 on initialize. Default 10,000."""
    session_idle_timeout: float
    """Seconds with nothing running or connected before a session is removed. Default 1800."""
    max_in_flight_per_session: int
    """Calls running at once per session; further POSTs wait (back-pressure). Default 64."""
    max_in_flight: int
    """Requests handled at once by this process, all clients together; further POSTs wait (back-pressure).
    `subscriptions/listen` streams do not count. Default 1024."""
    replay_buffer_events: int
    """Events kept per SSE stream for resumption (Last-Event-ID). Default 256."""
    retry_interval: int | None
    """Milliseconds, sent as `retry:` with priming events on 2025-11-25 sessions. Default 1000."""
    keepalive: float | None
    """Seconds between keep-alive comments on idle SSE streams. Default 15."""
    header_read_timeout: float | None
    """Seconds a request's head (request line and headers) may take to arrive, counted from when the connection
    starts waiting for it; so it also closes a keep-alive connection idle for that long. On expiry the connection
    is closed without a response (slowloris). None waits forever. Default 30."""
    body_read_timeout: float | None
    """Seconds a POST body may take to arrive in full after its head (a deadline, not per chunk): a body shorter
    than its Content-Length or a chunked body that never ends gets 408 and the connection closes. None waits
    forever. Default 30."""
    allowed_hosts: list[str] | None
    """Host header values accepted (403 otherwise); `name:*` accepts the name with any port. Default: any port
    on the loopback names (`127.0.0.1:*`, `localhost:*`, `[::1]:*`) when bound to loopback, anything otherwise."""
    allowed_origins: list[str] | None
    """Origin header values accepted (403 otherwise); `http://name:*` accepts any port. Default: the http(s)
    origins of the allowed hosts (same-origin when any host is)."""
    allow_delete: bool
    """Whether clients may end sessions with DELETE (405 otherwise). Default True."""
    io_threads: int
    """tokio I/O threads. Default: the number of cores, at most 4. (NOTE: on the 2-core reference machine, 2
    threads gave 77k calls/s at p99 1.8 ms against 63k at p99 2.6 ms with 1; one sequential client sees
    ~30 µs more latency, 123 against 94 µs p50.)"""
    shutdown_timeout: float
    """Seconds a stop waits for running calls before cancelling them. Default 10."""
    reuse_port: bool
    """Bind with SO_REUSEPORT, so several processes serve one port (`run(..., workers=N)` sets it for its
    workers). Default False."""
    redis_url: str | None
    """`redis://host:port/db`: share legacy sessions, notifications (list changes, resource updates, listen
    streams, task status, answers to requests to the client) and task records with every process using the same
    Redis and prefix, so any worker or machine serves any request. Checked at start. Default None (this process
    only)."""
    redis_prefix: str | None
    """Put before every Redis key and the bus channel (several deployments on one Redis). Default `ferromcp:`."""
    session_id_prefix: str | None
    """Put before every session id this process mints (1-32 letters, digits, `-`, `_`, `.`), so a load
    balancer can send a session's requests to the replica that holds it (see `deploy/nginx`). Default None."""


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
        cache_hints: Mapping[str, CacheHint] | None = None,
        request_state_keys: Sequence[str] | None = None,
        request_state_ttl: float | None = None,
        lifespan: Callable[[Server], contextlib.AbstractAsyncContextManager[Any]] | None = None,
        mask_error_details: bool = True,
        audit: Callable[[AuditRecord], object] | None = None,
        audit_key: bytes | str | None = None,
        rate_limit: RateLimit | None = None,
        auth: JWTVerifier | TokenVerifier | None = None,
        tool_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        """`request_state_keys`: secrets (32 bytes, as 64 hex digits or base64) that seal the `requestState` of
        2026-07-28 input-required round trips; the first seals, all open, so keys rotate by putting a new one
        first. Every process serving the same clients needs the same keys; without any, each process seals
        with its own random key. `request_state_ttl`: seconds a sealed state stays valid (default 600).

        `lifespan`: an async context manager factory (`@contextlib.asynccontextmanager async def lifespan(server):
        ... yield state ...`), entered when serving starts (stdio or HTTP; in each worker) and left after the
        shutdown drain; handlers read what it yields as `ctx.lifespan_context`.

        `mask_error_details`: when a handler raises an unexpected exception (not a `ToolError`, `McpError`,
        `ResourceNotFound`, ...), the client gets `Error executing tool NAME (error id ID)` and the traceback is
        logged with the same id; `False` adds the exception's message (for development).

        `audit`: called with an `AuditRecord` (see `ferromcp.audit`) for every `tools/call`, `resources/read` and
        `prompts/get`, on a background thread; `ferromcp.audit.JsonLinesAudit(path)` writes them to a file.
        `audit_key` (at least 16 bytes, or a string) keys the HMAC of the arguments; default: random per
        process.

        `rate_limit`: a `RateLimit(per_client="100/s", per_tool={"search": "10/s"})` (see `RateLimit`).

        `auth`: bearer-token authorization of HTTP requests (`ferromcp.auth.JWTVerifier`, or a `TokenVerifier`
        written in Python): every request to the MCP endpoint needs a valid token (401 otherwise), handlers see
        the caller as `ctx.auth`. stdio is not affected (its credentials come from the environment).

        `tool_timeout`: seconds an `async def` or `blocking=True` tool may run before it is cancelled and the
        client gets an `isError` result saying it timed out (default 300; None: no limit); `@server.tool(timeout=)`
        sets it per tool. A plain `def` tool runs on the event loop and cannot be interrupted."""
        if tool_timeout is not None and not tool_timeout > 0:
            raise ValueError(f"tool_timeout must be a positive number of seconds or None, not {tool_timeout!r}")
        self.tool_timeout = tool_timeout
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
        self.mask_error_details = mask_error_details
        hints = orjson.dumps(cache_hints_json(cache_hints)).decode() if cache_hints else None
        # Workers started by `run(..., workers=N)` share the supervisor's keys unless the app gives its own.
        keys = list(request_state_keys) if request_state_keys is not None else _workers.inherited_keys()
        self._keys_given = request_state_keys is not None
        self._engine = Engine(orjson.dumps(info).decode(), instructions, page_size, hints, keys, request_state_ttl)
        self._page_size = page_size
        if audit is not None:
            self._set_audit(audit, audit_key)
        if rate_limit is not None:
            per_tool = dict(rate_limit.per_tool) if rate_limit.per_tool is not None else None
            self._engine.set_rate_limit(rate_limit.per_client, per_tool)
        self._lifespan = lifespan
        if auth is not None and not isinstance(auth, (JWTVerifier, TokenVerifier)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise DefinitionError(f"auth must be a JWTVerifier or a TokenVerifier, not {type(auth).__name__}")
        self.auth = auth
        self.lifespan_context: Any = None
        self._skills: Skills | None = None
        self._handlers: dict[int, Handler] = {}
        self._names: dict[tuple[str, str], int] = {}
        self._next_id = 0

    def _set_audit(self, audit: Callable[[AuditRecord], object], key: bytes | str | None) -> None:
        if not callable(audit):
            raise TypeError(f"audit must be callable (a record sink), not {audit!r}")
        raw = key.encode() if isinstance(key, str) else key if key is not None else secrets.token_bytes(32)
        if isinstance(audit, JsonLinesAudit):
            self._engine.set_audit(raw, audit.write_json)  # the core's JSON, written as it is
            return

        def sink(line: str) -> object:
            return audit(orjson.loads(line))

        self._engine.set_audit(raw, sink)

    def _flush_audit(self) -> None:
        if not self._engine.flush_audit(5.0):
            _logger.warning("audit records were still being delivered after 5 s")

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
        input_schema: dict[str, Any] | None = None,
        task: bool | Literal["optional", "required"] = False,
        defer_task: bool = False,
        scopes: Sequence[str] | None = None,
        timeout: float | None = None,
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
        input_schema: dict[str, Any] | None = None,
        task: bool | Literal["optional", "required"] = False,
        defer_task: bool = False,
        scopes: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> F | Callable[[F], F]:
        """Registers a function as a tool: `@server.tool`, `@server.tool()` or `@server.tool(name=..., ...)`.

        The input schema comes from the type hints, the description from the docstring. A parameter annotated
        `Context` is injected. `blocking=True` runs a sync function on a worker thread instead of the loop.
        `input_schema=` publishes a schema verbatim instead (the function then takes its properties as keyword
        arguments, or `**kwargs`). `task=True` (or `"required"`) lets clients run the tool as a task: a
        2025-11-25 `tools/call` with `task` (polled with `tasks/get` / `tasks/result`), or a 2026-07-28 call from
        a client that declared the tasks extension (answered with a CreateTaskResult at once; polled with
        `tasks/get`, input through `tasks/update`). With `defer_task=True` a stateless call becomes a task only
        when the handler calls `await ctx.start_task()` (input asked before that goes through input-required
        round trips); a required task is then created at the latest when the handler returns. `scopes=[...]`:
        OAuth scopes a caller's token must grant (HTTP with `auth`): others do not see the tool in `tools/list`
        and calling it is 403 with a step-up challenge. `timeout=` (seconds) bounds an `async def` or
        `blocking=True` tool's run instead of the server's `tool_timeout` (`math.inf`: no limit); when it runs out
        the handler is cancelled and the call answered `isError: true`.
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
                input_schema=input_schema,
                task=task,
                defer_task=defer_task,
                scopes=scopes,
                timeout=timeout,
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
        input_schema: dict[str, Any] | None = None,
        task: bool | Literal["optional", "required"] = False,
        defer_task: bool = False,
        scopes: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Registers `fn` as a tool (the non-decorator form of `tool`). A tool of the same name is replaced."""
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
        spec = build_tool(
            self._new_id(),
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
            input_schema=input_schema,
            task=task,
        )
        spec.defer_task = defer_task
        limit = self.tool_timeout if timeout is None else timeout
        spec.timeout = None if limit is None or math.isinf(limit) else limit
        self._engine.add_tool(spec.id, orjson.dumps(spec.definition).decode(), spec.accepts, _scopes(scopes))
        self._replace(("tool", spec.name), spec)

    def remove_tool(self, name: str) -> None:
        """Removes a tool. Raises KeyError if there is none of that name."""
        self._handlers.pop(self._names.pop(("tool", name)))
        self._engine.remove_tool(name)

    def list_tools(self) -> list[dict[str, Any]]:
        """The Tool definitions as `tools/list` sends them."""
        return [spec.definition for spec in self._handlers.values() if isinstance(spec, ToolSpec)]

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- resources ---------------------------------------------------------------------------------------------

    def resource(
        self,
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        annotations: Annotations | dict[str, Any] | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        blocking: bool = False,
        cache_hint: CacheHint | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Callable[[F], F]:
        """Registers a function that reads a resource: `@server.resource("file:///notes.txt")`.

        A URI with `{variables}` is a template (RFC 6570): `@server.resource("users://{user_id}/profile")`
        matches `users://42/profile` and calls the function with `user_id="42"` (converted to the parameter's
        annotated type). Return text (`str`), binary (`bytes`, sent base64), any JSON value (sent as JSON text),
        `ResourceContents`, or a list of those. Raise `ResourceNotFound` for -32002. `cache_hint` is what
        stateless (2026-07-28) reads of it carry as `ttlMs`/`cacheScope`, instead of the server's
        `resources/read` hint. `scopes`: as for tools (left out of lists, reads and subscriptions 403).
        """

        def register(fn: F) -> F:
            self.add_resource(
                fn,
                uri,
                name=name,
                title=title,
                description=description,
                mime_type=mime_type,
                size=size,
                annotations=annotations,
                icons=icons,
                meta=meta,
                blocking=blocking,
                cache_hint=cache_hint,
                scopes=scopes,
            )
            return fn

        return register

    def add_resource(
        self,
        fn: Callable[..., Any],
        uri: str,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
        size: int | None = None,
        annotations: Annotations | dict[str, Any] | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        blocking: bool = False,
        cache_hint: CacheHint | None = None,
        scopes: Sequence[str] | None = None,
    ) -> None:
        """Registers a resource or resource template (the non-decorator form of `resource`)."""
        spec = build_resource(
            self._new_id(),
            fn,
            uri,
            name=name,
            title=title,
            description=description,
            mime_type=mime_type,
            size=size,
            annotations=annotations,
            icons=icons,
            meta=meta,
            blocking=blocking,
        )
        definition = orjson.dumps(spec.definition).decode()
        hint = orjson.dumps(cache_hint_json(cache_hint)).decode() if cache_hint is not None else None
        if spec.is_template:
            self._engine.add_template(spec.id, definition, hint, _scopes(scopes))
        else:
            self._engine.add_resource(spec.id, definition, hint, _scopes(scopes))
        self._replace(("resource", uri), spec)

    def remove_resource(self, uri: str) -> None:
        """Removes a resource (by URI) or template (by URI template). Raises KeyError if there is none."""
        self._handlers.pop(self._names.pop(("resource", uri)))
        self._engine.remove_resource(uri)

    def list_resources(self) -> list[dict[str, Any]]:
        return [s.definition for s in self._handlers.values() if isinstance(s, ResourceSpec) and not s.is_template]

    def list_resource_templates(self) -> list[dict[str, Any]]:
        return [s.definition for s in self._handlers.values() if isinstance(s, ResourceSpec) and s.is_template]

    async def notify_resource_updated(self, uri: str) -> int:
        """Tells every session subscribed to `uri` that it changed; returns how many were told."""
        return self._engine.notify_resource_updated(uri)

    # -- prompts -----------------------------------------------------------------------------------------------

    @overload
    def prompt(self, fn: F, /) -> F: ...

    @overload
    def prompt(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> Callable[[F], F]: ...

    def prompt(
        self,
        fn: F | None = None,
        /,
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> F | Callable[[F], F]:
        """Registers a prompt: `@server.prompt` or `@server.prompt(name=..., ...)`.

        Parameters become the prompt's arguments (required unless they have a default; an `Annotated` string
        is the argument's description). Return a string (one user message), a `Message`, a content block, or a
        list of those. `scopes`: as for tools (left out of `prompts/list`, getting or completing it 403).
        """

        def register(func: F) -> F:
            self.add_prompt(
                func, name=name, title=title, description=description, icons=icons, meta=meta, scopes=scopes
            )
            return func

        return register(fn) if fn is not None else register

    def add_prompt(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[dict[str, Any]] | None = None,
        meta: dict[str, Any] | None = None,
        scopes: Sequence[str] | None = None,
    ) -> None:
        spec = build_prompt(self._new_id(), fn, name=name, title=title, description=description, icons=icons, meta=meta)
        self._engine.add_prompt(spec.id, orjson.dumps(spec.definition).decode(), _scopes(scopes))
        self._replace(("prompt", spec.name), spec)

    def remove_prompt(self, name: str) -> None:
        self._handlers.pop(self._names.pop(("prompt", name)))
        self._engine.remove_prompt(name)

    def list_prompts(self) -> list[dict[str, Any]]:
        return [s.definition for s in self._handlers.values() if isinstance(s, PromptSpec)]

    # -- extensions: custom methods and skills -----------------------------------------------------------------

    def add_method(
        self, name: str, fn: Callable[..., Any], *, cache_hint: CacheHint | None = None, blocking: bool = False
    ) -> None:
        """Answers request method `name` (beyond the protocol's own, e.g. an extension's) with `fn(params)`,
        which returns the result object; `cache_hint` gives its stateless results `ttlMs`/`cacheScope`."""
        spec = build_method(self._new_id(), name, fn, blocking=blocking)
        hint = orjson.dumps(cache_hint_json(cache_hint)).decode() if cache_hint is not None else None
        self._engine.add_method(name, spec.id, hint)
        self._replace(("method", name), spec)

    def declare_extension(self, name: str, settings: Mapping[str, Any] | None = None) -> None:
        """Declares extension `name` with `settings` (default `{}`) under `capabilities.extensions`."""
        self._engine.set_extension(name, orjson.dumps(dict(settings or {})).decode())

    def add_skills(self, directory: str | os.PathLike[str]) -> list[str]:
        """Serves every skill under `directory` (one folder per skill, each with a SKILL.md); returns their
        names. Raises `DefinitionError` naming the file for a skill that cannot be served."""
        root = Path(directory)
        if not root.is_dir():
            raise DefinitionError(f"{root}: not a directory of skills")
        folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        try:
            skills = [load_skill_dir(folder) for folder in folders if (folder / "SKILL.md").exists()]
        except (ValueError, OSError) as exc:
            raise DefinitionError(str(exc)) from None
        for skill in skills:
            self._serve_skill(skill)
        return [s.name for s in skills]

    def add_skill(self, skill_md: str, files: Mapping[str, str | bytes] | None = None) -> str:
        """Serves a skill defined in code: its SKILL.md (frontmatter with name and description) and other files
        by relative path. Returns its name."""
        try:
            skill = skill_from_text(skill_md, files)
        except ValueError as exc:
            raise DefinitionError(str(exc)) from None
        self._serve_skill(skill)
        return skill.name

    def _serve_skill(self, skill: Skill) -> None:
        if self._skills is None:
            skills = self._skills = Skills(self._page_size)
            hint = CacheHint()
            self.add_method("skills/list", skills.list, cache_hint=hint)
            self.add_method("skills/get", skills.get_entry, cache_hint=hint)
            self.add_method("resources/directory/read", skills.directory_read)
            self.declare_extension(SKILLS_EXTENSION, {"directoryRead": True})
        previous = self._skills.get(skill.name)
        if previous is not None:
            # Served again: files it no longer has stop being resources.
            for rel in previous.files.keys() - skill.files.keys():
                with contextlib.suppress(KeyError):
                    self.remove_resource(previous.file_uri(rel))
        self._skills.add(skill)
        for rel, file in skill.files.items():
            is_md = rel == "SKILL.md"
            self.add_resource(
                _skill_reader(skill, rel),
                skill.file_uri(rel),
                name=skill.name if is_md else f"{skill.name}/{rel}",
                description=skill.description if is_md else None,
                mime_type=file.mime_type,
            )

    # -- completion --------------------------------------------------------------------------------------------

    def completion(self, fn: F | None = None, /) -> F | Callable[[F], F]:
        """Registers the completion handler: `fn(ref, argument, context)` → a list of strings or a `Completion`.

        `ref` is a `PromptRef(name)` or `ResourceRef(uri)`, `argument` a `CompletionArgument(name, value)`,
        `context` a `CompletionContext(arguments)` or None. At most 100 values are sent.
        """

        def register(func: F) -> F:
            spec = build_completion(self._new_id(), func)
            self._engine.set_completion(spec.id)
            self._replace(("completion", ""), spec)
            return func

        return register(fn) if fn is not None else register

    def _replace(self, key: tuple[str, str], spec: Handler) -> None:
        old = self._names.get(key)
        if old is not None:
            self._handlers.pop(old, None)
        self._handlers[spec.id] = spec
        self._names[key] = spec.id

    # -- serving -----------------------------------------------------------------------------------------------

    @overload
    def run(self, transport: Literal["stdio"] = "stdio") -> None: ...

    @overload
    def run(
        self,
        transport: Literal["http", "streamable-http"],
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
        workers: int = 1,
        **options: Any,
    ) -> None: ...

    def run(
        self,
        transport: Literal["stdio", "http", "streamable-http"] = "stdio",
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        path: str = "/mcp",
        workers: int = 1,
        **options: Any,
    ) -> None:
        """Serves until stopped. Blocks.

        - `run()` / `run("stdio")`: stdio, until the client closes stdin.
        - `run("http", host="127.0.0.1", port=8000, path="/mcp", **options)` (alias `"streamable-http"`):
          Streamable HTTP until SIGINT or SIGTERM, which drain running calls (see `HttpOptions`).
        - `workers=N` (HTTP): N processes serve the port (SO_REUSEPORT), each running this program again; this
          process supervises them (restarts, signals). Stateless (2026-07-28) traffic needs nothing else; legacy
          sessions live in the worker that created them, so they need a load balancer with `Mcp-Session-Id`
          affinity in front of several machines, and on one machine stay on one worker only while their
          client keeps its connection.
        """
        if transport == "stdio":
            if options or workers != 1:
                raise TypeError(f"stdio takes no options: {sorted(options) or ['workers']}")
            _run_loop(self.run_stdio_async())
        elif transport in ("http", "streamable-http"):
            if workers < 1:
                raise ValueError(f"workers must be at least 1, not {workers}")
            me = _workers.worker_id()
            if workers > 1 and me is None:
                if port == 0:
                    raise ValueError("workers share one port: give a port number, not 0")
                print(f"ferromcp: serving {self.name} with {workers} workers on port {port}", file=sys.stderr)
                grace = float(options.get("shutdown_timeout", 10.0)) + 5.0
                code = _workers.supervise(workers, keys_given=self._keys_given, grace=grace)
                if code:
                    raise SystemExit(code)
                return
            if me is not None:
                options = {**options, "reuse_port": True, "worker_id": me}
            _run_loop(self._serve_http_until_signal(host, port, path, options))
        else:
            raise ValueError(f"unknown transport {transport!r}; available: 'stdio', 'http' ('streamable-http')")

    async def run_stdio_async(self) -> None:
        """Serves MCP over this process's stdin/stdout until stdin closes and in-flight calls have finished.

        While serving, file descriptor 1 and `sys.stdout` point at stderr, so a stray `print()` cannot corrupt
        the protocol stream; the real stdout carries only MCP messages.
        """
        with _protocol_stdout() as out_fd:
            await self.serve_stdio(0, out_fd)

    async def serve_stdio(self, input_fd: int, output_fd: int) -> None:
        """Serves MCP over two file descriptors (duplicated; the caller keeps and closes its own)."""
        sync_core_level()
        async with self._lifespan_scope():
            transport = StdioServer(self._engine, input_fd, output_fd, self.max_message_size)
            dispatcher = Dispatcher(self, transport)
            dispatcher.start()
            try:
                await dispatcher.finished
            finally:
                dispatcher.stop()
                transport.close()  # flushes queued output; releases the GIL while it waits
                self._flush_audit()

    @contextlib.asynccontextmanager
    async def _lifespan_scope(self) -> AsyncGenerator[None, None]:
        """The `lifespan` context while serving (nothing without one)."""
        if self._lifespan is None:
            yield
            return
        async with self._lifespan(self) as state:
            self.lifespan_context = state
            try:
                yield
            finally:
                self.lifespan_context = None

    @contextlib.asynccontextmanager
    async def _auth_scope(self) -> AsyncGenerator[None, None]:
        """The JWT verifier's key set loaded (and kept fresh) while serving."""
        if isinstance(self.auth, JWTVerifier):
            async with self.auth._serving():  # pyright: ignore[reportPrivateUsage]
                yield
        else:
            yield

    async def serve_http(self, host: str = "127.0.0.1", port: int = 8000, path: str = "/mcp", **options: Any) -> None:
        """Serves Streamable HTTP inside the running event loop until cancelled; cancelling drains running
        calls (up to `shutdown_timeout`) and stops cleanly. Use it to embed the server in an asyncio app."""
        async with self.http_server(host, port, path, **options):
            await asyncio.Event().wait()

    @contextlib.asynccontextmanager
    async def http_server(
        self, host: str = "127.0.0.1", port: int = 8000, path: str = "/mcp", **options: Any
    ) -> AsyncGenerator[str, None]:
        """Serves Streamable HTTP while the block runs; yields the endpoint URL (`port=0` picks a free port)."""
        shutdown_timeout = float(options.pop("shutdown_timeout", 10.0))
        unknown = set(options) - set(HttpOptions.__annotations__) - {"worker_id"}
        if unknown:
            raise TypeError(f"unknown HTTP options: {sorted(unknown)}")
        renamed = {"max_request_body_size": "max_body_bytes", "retry_interval": "retry_ms"}
        kwargs = {renamed.get(k, k): v for k, v in options.items()}
        kwargs.setdefault("io_threads", min(4, os.cpu_count() or 1))
        if self.auth is not None:
            kwargs.update(http_auth_options(self.auth))
        sync_core_level()
        async with self._lifespan_scope(), self._auth_scope():
            transport = HttpServer(self._engine, host=host, port=port, path=path, **kwargs)
            dispatcher = Dispatcher(self, transport)
            dispatcher.start()
            shown_host = f"[{transport.host}]" if ":" in transport.host else transport.host
            url = f"http://{shown_host}:{transport.port}{path}"
            _logger.info("serving MCP over Streamable HTTP at %s", url)
            try:
                yield url
            finally:
                await _drain(transport, dispatcher, shutdown_timeout)
                self._flush_audit()

    async def _serve_http_until_signal(self, host: str, port: int, path: str, options: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            async with self.http_server(host, port, path, **options) as url:
                print(f"ferromcp: serving {self.name} at {url} (Ctrl+C to stop)", file=sys.stderr, flush=True)
                await stop.wait()
                print("ferromcp: stopping: finishing running calls", file=sys.stderr, flush=True)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


async def _drain(transport: HttpServer, dispatcher: Dispatcher, timeout: float) -> None:
    """Graceful stop: refuse new work, let running calls finish (up to `timeout`), then end every stream."""
    transport.begin_shutdown()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    running = transport.in_flight()
    if running:
        _logger.info("draining: waiting up to %.1f s for %d running calls", timeout, running)
    # Polled: part of the state lives in the Rust core (calls queued but not yet drained).
    while (transport.in_flight() or dispatcher.busy) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    left = transport.in_flight()
    if left:
        _logger.warning("shutdown timeout (%.1f s): %d calls still running are abandoned", timeout, left)
    elif running:
        _logger.info("drained: every running call was answered")
    dispatcher.stop()
    await asyncio.to_thread(transport.close, 1.0)


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


def _skill_reader(skill: Skill, rel: str) -> Callable[[], str | bytes]:
    """Reads a skill file's current bytes (as text when they are UTF-8); one that vanished or now leads outside
    the skill's folder is not found, never read."""

    def read() -> str | bytes:
        try:
            data = skill.files[rel].read(skill.root)
        except (OSError, ValueError, KeyError):
            raise ResourceNotFound(skill.file_uri(rel)) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data

    return read


def _scopes(scopes: Sequence[str] | None) -> list[str] | None:
    if scopes is None:
        return None
    if isinstance(scopes, str):
        raise DefinitionError(f"scopes must be a list of scope names, not the string {scopes!r}")
    return list(scopes)


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(main)
    else:
        uvloop.run(main)
