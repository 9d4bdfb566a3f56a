"""The per-call `Context` a tool can ask for by annotating a parameter with it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import typing
import uuid
from typing import Any, Literal, Protocol

import msgspec
import orjson

from . import _schema
from ._core import CallFinishedError, LimitError
from .auth import AccessToken, access_token_from_json

if typing.TYPE_CHECKING:
    from ._core import CallHandle
    from ._server import Server

__all__ = [
    "Context",
    "ElicitResult",
    "InputRequired",
    "LogLevel",
    "McpError",
    "MissingClientCapability",
    "ProtocolError",
    "SamplingResult",
]

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
_logger = logging.getLogger("ferromcp")


DEFAULT_CLIENT_TIMEOUT = 300.0


class McpError(Exception):
    """The client answered a request from the server with a JSON-RPC error (or could not be asked)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


MISSING_REQUIRED_CLIENT_CAPABILITY = -32021


def respond_with_error(handle: CallHandle, exc: McpError) -> None:
    """Answers the call with `exc` as its JSON-RPC error (code, message, data)."""
    handle.respond_error(exc.code, exc.message, orjson.dumps(exc.data) if exc.data is not None else None)


class ProtocolError(McpError):
    """Raise in a handler to answer the request with this JSON-RPC error (code, message, data) rather than a
    tool error: the request itself failed, not the tool's work. In a task, the task ends `failed`."""


class MissingClientCapability(ProtocolError):
    """A 2026-07-28 request needs a client capability it did not declare: answered -32021 (HTTP 400) with
    `data.requiredCapabilities`, as the specification asks, instead of running on without it."""

    def __init__(self, capability: str, what: str) -> None:
        super().__init__(
            MISSING_REQUIRED_CLIENT_CAPABILITY,
            f"{what} needs the client capability {capability!r}, which this request did not declare",
            {"requiredCapabilities": {capability: {}}},
        )


class InputRequired(BaseException):
    """Raised by `ctx.elicit()`, `ctx.sample()` and `ctx.list_roots()` on a 2026-07-28 request whose client
    has not answered yet: the runtime turns it into an input-required result, and the client retries with the
    answer. A `BaseException`, so `except Exception` in a handler does not swallow it; let it propagate."""

    def __init__(self, context: Context) -> None:
        super().__init__("the client's input is required; the request will be retried with it")
        self.context = context


def _is_elicit_result(value: Any) -> bool:
    return isinstance(value, dict) and value.get("action") in ("accept", "decline", "cancel")  # pyright: ignore[reportUnknownMemberType]


def _is_sampling_result(value: Any) -> bool:
    return isinstance(value, dict) and "role" in value and "content" in value


def _is_roots_result(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("roots"), list)  # pyright: ignore[reportUnknownMemberType]


@dataclasses.dataclass(frozen=True, slots=True)
class SamplingResult:
    """The client's answer to `sampling/createMessage`."""

    role: str
    content: Any
    model: str
    stop_reason: str | None
    raw: dict[str, Any]

    @property
    def text(self) -> str | None:
        """The text of a text answer (the first text block of a multi-block one)."""
        content: Any = self.content
        blocks: list[Any] = content if isinstance(content, list) else [content]  # pyright: ignore[reportUnknownVariableType]
        for block in blocks:
            if isinstance(block, dict):
                fields: dict[str, Any] = block  # pyright: ignore[reportUnknownVariableType]
                if fields.get("type") == "text":
                    return str(fields.get("text"))
        return None


@dataclasses.dataclass(frozen=True, slots=True)
class ElicitResult:
    """The user's answer to `elicitation/create`: `action` is "accept", "decline" or "cancel"."""

    action: Literal["accept", "decline", "cancel"]
    content: Any = None


class _Requests(Protocol):
    """What a context needs from the dispatcher to wait for the client's answers."""

    def expect_reply(self) -> tuple[int, asyncio.Future[tuple[bool, bytes]]]: ...
    def forget_reply(self, key: int) -> None: ...


class Context:
    """What a tool knows about the request it is serving, and how it talks back while it runs.

    Declare a parameter annotated `Context` (any name) and it is injected; it never appears in the input schema.
    """

    __slots__ = ("_asked", "_handle", "_requests", "_seq", "_server", "_used")

    def __init__(self, handle: CallHandle, server: Server, requests: _Requests) -> None:
        self._handle = handle
        self._server = server
        self._requests = requests
        # Input-required round trips (2026-07-28): requests still unanswered, answers used, and a counter that
        # names requests the same way on every replay.
        self._asked: dict[str, dict[str, Any]] = {}
        self._used: list[str] = []
        self._seq = 0

    @property
    def request_id(self) -> str | int:
        """The JSON-RPC id of the `tools/call` request, with its JSON type."""
        return self._handle.request_id

    @property
    def progress_token(self) -> str | int | None:
        """The request's `_meta.progressToken`, if the client asked for progress."""
        return self._handle.progress_token

    @property
    def server(self) -> Server:
        return self._server

    @property
    def lifespan_context(self) -> Any:
        """What the server's `lifespan` yielded (None without one)."""
        return self._server.lifespan_context

    @property
    def auth(self) -> AccessToken | None:
        """Who is calling: the verified bearer token's subject, scopes and claims (HTTP with `Server(auth=...)`);
        None without authorization."""
        data = self._handle.principal
        return access_token_from_json(data) if data is not None else None

    @property
    def protocol_version(self) -> str:
        """The protocol version the request is handled under ("2026-07-28" for a stateless request)."""
        return self._handle.protocol_version

    def client_capability(self, name: str) -> Any:
        """What the client declared for capability `name` (e.g. "sampling", "elicitation", "roots"), or None."""
        declared = self._handle.client_capability(name)
        return None if declared is None else orjson.loads(declared)

    @property
    def is_cancelled(self) -> bool:
        """True once the client cancelled this call (or it was answered). Long sync loops should check it."""
        return not self._handle.active

    async def start_task(self) -> str | None:
        """Turns this call into a task now, when it may be one (a 2026-07-28 call of a tool registered with
        `task=...` and `defer_task=True`, from a client that declared the tasks extension): the client gets a
        CreateTaskResult and polls; the rest of the handler runs as the task, and what it asks the client from
        here on goes through the task. Returns the task id, or None when the call cannot be a task (it then
        simply goes on)."""
        if not self._handle.task_eligible:
            return None
        return self._handle.start_task()

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Sends `notifications/progress` (only if the client sent a progress token). `progress` should increase."""
        self._handle.progress(progress, total, message)

    async def log(self, level: LogLevel, data: Any, *, logger_name: str | None = None) -> None:
        """Sends `notifications/message` to the client, subject to the level it set with `logging/setLevel`."""
        try:
            payload = orjson.dumps(data)
        except TypeError:
            payload = orjson.dumps(str(data))
        if not self._handle.log(level, payload, logger_name):
            _logger.debug("log message at %s not sent (filtered by the client's level, or the call ended)", level)

    async def debug(self, data: Any, *, logger_name: str | None = None) -> None:
        await self.log("debug", data, logger_name=logger_name)

    async def info(self, data: Any, *, logger_name: str | None = None) -> None:
        await self.log("info", data, logger_name=logger_name)

    async def warning(self, data: Any, *, logger_name: str | None = None) -> None:
        await self.log("warning", data, logger_name=logger_name)

    async def error(self, data: Any, *, logger_name: str | None = None) -> None:
        await self.log("error", data, logger_name=logger_name)

    # -- requests to the client -------------------------------------------------------------------------------

    async def request(
        self, method: str, params: dict[str, Any], *, timeout: float | None = DEFAULT_CLIENT_TIMEOUT
    ) -> Any:
        """Sends a request to the client on this call's stream and returns its result (a JSON value).

        Raises `McpError` if the client answers with an error, `TimeoutError` if it does not answer in time
        (the request is then cancelled towards the client).
        """
        key, future = self._requests.expect_reply()
        try:
            request_id = self._handle.request(method, orjson.dumps(params), key)
        except (CallFinishedError, LimitError, NotImplementedError) as exc:
            self._requests.forget_reply(key)
            raise McpError(-32603, str(exc)) from None
        try:
            is_error, payload = await asyncio.wait_for(future, timeout)
        except (TimeoutError, asyncio.TimeoutError):
            self._handle.cancel_request(request_id, f"no answer within {timeout} s")
            raise TimeoutError(f"the client did not answer {method} within {timeout} s") from None
        finally:
            self._requests.forget_reply(key)
        value = orjson.loads(payload)
        if is_error:
            error: dict[str, Any] = value if isinstance(value, dict) else {}  # pyright: ignore[reportUnknownVariableType]
            raise McpError(int(error.get("code", -32603)), str(error.get("message", "error")), error.get("data"))
        return value

    def _require(self, capability: str, what: str) -> Any:
        declared = self.client_capability(capability)
        if declared is None:
            if self._handle.stateless:
                raise MissingClientCapability(capability, what)
            raise McpError(-32601, f"the client did not declare the {capability!r} capability needed for {what}")
        return declared

    async def _ask(
        self,
        kind: str,
        method: str,
        params: dict[str, Any],
        key: str | None,
        valid: typing.Callable[[Any], bool],
        timeout: float | None,
    ) -> Any:
        """Asks the client: a request on the call's stream (legacy), or an input request answered on the
        client's retry (2026-07-28: the handler runs again, and this returns the answer instead of raising)."""
        if not self._handle.can_require_input:
            return await self.request(method, params, timeout=timeout)
        self._seq += 1
        name = key if key is not None else f"{kind}-{self._seq}"
        question = {"method": method, "params": params}
        answer = self._handle.input_response(name, orjson.dumps(question))
        if answer is not None:
            value = orjson.loads(answer)
            if valid(value):
                self._used.append(name)
                return value
        # Unanswered, answered with something unusable, or the answer was to another question: ask (again).
        self._asked[name] = question
        raise InputRequired(self)

    async def sample(
        self,
        messages: str | list[Any],
        *,
        max_tokens: int = 512,
        system_prompt: str | None = None,
        temperature: float | None = None,
        stop_sequences: list[str] | None = None,
        model_preferences: dict[str, Any] | None = None,
        include_context: Literal["none", "thisServer", "allServers"] | None = None,
        metadata: dict[str, Any] | None = None,
        timeout: float | None = DEFAULT_CLIENT_TIMEOUT,
        key: str | None = None,
    ) -> SamplingResult:
        """Asks the client's model for a completion (`sampling/createMessage`).

        `messages` is a user prompt, or a list of prompts and `{"role", "content"}` message dicts. On a
        2026-07-28 request this is an input request named `key` (default `sampling-N`): see `InputRequired`.
        """
        self._require("sampling", "ctx.sample()")
        items: list[Any] = [messages] if isinstance(messages, str) else messages
        wire: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, str):
                wire.append({"role": "user", "content": {"type": "text", "text": item}})
            else:
                wire.append(item)
        params: dict[str, Any] = {"messages": wire, "maxTokens": max_tokens}
        for field, value in (
            ("systemPrompt", system_prompt),
            ("temperature", temperature),
            ("stopSequences", stop_sequences),
            ("modelPreferences", model_preferences),
            ("includeContext", include_context),
            ("metadata", metadata),
        ):
            if value is not None:
                params[field] = value
        raw = await self._ask("sampling", "sampling/createMessage", params, key, _is_sampling_result, timeout)
        return SamplingResult(raw["role"], raw["content"], raw.get("model", ""), raw.get("stopReason"), raw)

    async def elicit(
        self,
        message: str,
        schema: type[Any] | dict[str, Any],
        *,
        timeout: float | None = DEFAULT_CLIENT_TIMEOUT,
        key: str | None = None,
    ) -> ElicitResult:
        """Asks the user for input through the client (`elicitation/create`, form mode).

        `schema` is a flat object schema (a dict), or a dataclass / TypedDict / msgspec Struct / pydantic model
        whose fields are primitives; with a type, accepted content is converted to it. On a 2026-07-28 request
        this is an input request named `key` (default `elicitation-N`): see `InputRequired`.
        """
        self._require("elicitation", "ctx.elicit()")
        requested = schema if isinstance(schema, dict) else _schema.object_schema(schema)
        if requested is None:
            raise TypeError("elicit() needs an object schema: a dict, dataclass, TypedDict, Struct or model")
        params = {"mode": "form", "message": message, "requestedSchema": requested}
        if not self._handle.stateless:
            del params["mode"]  # the legacy form mode is implied (and 2025-06-18 clients know no mode)
        raw = await self._ask("elicitation", "elicitation/create", params, key, _is_elicit_result, timeout)
        action = raw.get("action")
        if action not in ("accept", "decline", "cancel"):
            raise McpError(-32602, f"invalid elicitation action {action!r}")
        content = raw.get("content")
        if action == "accept" and content is not None and not isinstance(schema, dict):
            content = msgspec.convert(content, schema, strict=False)
        return ElicitResult(action, content)

    async def elicit_url(
        self,
        message: str,
        url: str,
        *,
        elicitation_id: str | None = None,
        timeout: float | None = DEFAULT_CLIENT_TIMEOUT,
        key: str | None = None,
    ) -> ElicitResult:
        """Asks the user to complete an interaction at `url` out of band (URL-mode elicitation, 2025-11-25).

        The answer says whether the user agreed to open it; call `notify_elicitation_complete` when the
        interaction itself has finished.
        """
        declared = self._require("elicitation", "ctx.elicit_url()")
        if not (isinstance(declared, dict) and "url" in declared):
            raise McpError(-32601, "the client did not declare URL-mode elicitation (capabilities.elicitation.url)")
        params = {"mode": "url", "message": message, "url": url, "elicitationId": elicitation_id or uuid.uuid4().hex}
        raw = await self._ask("elicitation", "elicitation/create", params, key, _is_elicit_result, timeout)
        action = raw.get("action")
        if action not in ("accept", "decline", "cancel"):
            raise McpError(-32602, f"invalid elicitation action {action!r}")
        return ElicitResult(action, raw.get("content"))

    async def notify_elicitation_complete(self, elicitation_id: str) -> None:
        """Tells the client that the out-of-band interaction of a URL elicitation has completed."""
        self._handle.notify_session(
            "notifications/elicitation/complete", orjson.dumps({"elicitationId": elicitation_id})
        )

    async def list_roots(
        self, *, timeout: float | None = DEFAULT_CLIENT_TIMEOUT, key: str | None = None
    ) -> list[dict[str, Any]]:
        """The client's roots (`roots/list`): dicts with `uri` and optional `name`. On a 2026-07-28 request this
        is an input request named `key` (default `roots-N`): see `InputRequired`."""
        self._require("roots", "ctx.list_roots()")
        raw = await self._ask("roots", "roots/list", {}, key, _is_roots_result, timeout)
        return list(raw.get("roots", []))

    async def ping_client(self, *, timeout: float | None = 30.0) -> None:
        """Pings the client (its answer must be an empty result)."""
        await self.request("ping", {}, timeout=timeout)

    def close_stream(self) -> bool:
        """Closes this call's SSE stream now; the client reconnects (GET + Last-Event-ID) and still receives
        everything, including the result. Long-running calls use it to avoid holding a connection (SEP-1699).
        Returns False on transports without such a stream (stdio, JSON-only HTTP)."""
        return self._handle.close_stream()
