"""Tool registration: a function's signature becomes a Tool definition, and its return value a CallToolResult."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import inspect
import logging
import sys
import types
import typing
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import orjson

from . import _schema
from ._content import CONTENT_TYPES
from ._context import Context, McpError, ProtocolError, respond_with_error
from ._core import ResultError
from ._failures import unexpected_failure

if typing.TYPE_CHECKING:
    from ._core import CallHandle

__all__ = [
    "Handler",
    "Signature",
    "ToolError",
    "ToolSpec",
    "UrlElicitation",
    "UrlElicitationRequired",
    "analyze_signature",
    "build_tool",
    "common_fields",
    "is_async_callable",
    "json_bytes",
]

_logger = logging.getLogger("ferromcp")

URL_ELICITATION_REQUIRED = -32042
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")


class ToolError(Exception):
    """Raise in a tool to return `isError: true` with this message (the model sees it and can correct course)."""


@dataclasses.dataclass(frozen=True, slots=True)
class UrlElicitation:
    """An out-of-band interaction the user must complete at `url` (URL-mode elicitation, 2025-11-25)."""

    url: str
    message: str
    elicitation_id: str


class UrlElicitationRequired(Exception):
    """Raise in a tool that cannot proceed until the user completes URL elicitations: the client gets the
    JSON-RPC error -32042 listing them, shows the URLs, and may retry the call afterwards."""

    def __init__(self, elicitations: list[UrlElicitation], message: str = "URL elicitation required") -> None:
        super().__init__(message)
        self.elicitations = elicitations
        self.message = message


# How a tool's return value is shaped, decided once from its return annotation.
RESULT_DYNAMIC = 0  # no usable annotation: shape by runtime type
RESULT_TEXT = 1  # str: one text block
RESULT_OBJECT = 2  # an object type: structuredContent + its JSON as text
RESULT_WRAPPED = 3  # any other JSON type: structuredContent {"result": value}


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class Handler:
    """A registered function and how the dispatcher calls it; subclasses shape its result for one method."""

    id: int
    fn: Callable[..., Any]
    is_async: bool
    blocking: bool = False
    ctx_param: str | None = None
    # (argument, converter) pairs applied before the call; `drop` names arguments the function does not take.
    converters: tuple[tuple[str, _schema.Converter], ...] = ()
    drop: tuple[str, ...] = ()
    # Seconds the handler may run before it is cancelled and the call answered with a timeout (None: no limit).
    timeout: float | None = None

    def respond(self, handle: CallHandle, value: Any) -> None:
        raise NotImplementedError

    def fail(self, handle: CallHandle, exc: BaseException, *, mask: bool = True) -> None:
        """Answers a call whose handler raised `exc`; with `mask`, unexpected exceptions' messages are not sent
        (see `_failures`)."""
        raise NotImplementedError


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class ToolSpec(Handler):
    name: str
    result_kind: int
    definition: dict[str, Any]
    accepts: list[str] | None
    # A stateless call that may be a task becomes one when the handler asks (`ctx.start_task()`), not at once.
    defer_task: bool = False

    def respond(self, handle: CallHandle, value: Any) -> None:
        respond(handle, self, value)

    def fail(self, handle: CallHandle, exc: BaseException, *, mask: bool = True) -> None:
        """Tool failures are results with `isError: true`, so the model sees them and can correct course."""
        if isinstance(exc, ToolError):
            handle.respond_text(str(exc), True)
            return
        if isinstance(exc, ProtocolError):
            respond_with_error(handle, exc)
            return
        if isinstance(exc, UrlElicitationRequired):
            data = {
                "elicitations": [
                    {"mode": "url", "elicitationId": e.elicitation_id, "url": e.url, "message": e.message}
                    for e in exc.elicitations
                ]
            }
            handle.respond_error(URL_ELICITATION_REQUIRED, exc.message, orjson.dumps(data))
            return
        if isinstance(exc, (McpError, ResultError)):
            # ferromcp's own messages: the client refused a request (ctx.sample, ...), or the result does not
            # match the outputSchema.
            _logger.error("tool %r raised", self.name, exc_info=exc)
            handle.respond_text(f"Error executing tool {self.name}: {exc}", True)
            return
        handle.respond_text(unexpected_failure(f"Error executing tool {self.name}", exc, mask=mask), True)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"cannot resolve the type hints of {fn!r}: {exc}") from exc


def _is_context(tp: Any) -> bool:
    tp = typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp
    return isinstance(tp, type) and issubclass(tp, Context)


def _result_kind(tp: Any, structured_output: bool | None) -> tuple[int, dict[str, Any] | None]:
    if structured_output is False or tp is inspect.Signature.empty or tp is Any or tp is object:
        if structured_output:
            raise TypeError("structured_output=True needs a return annotation")
        return RESULT_DYNAMIC, None
    base = typing.get_args(tp)[0] if typing.get_origin(tp) is typing.Annotated else tp
    if base is str:
        return RESULT_TEXT, None
    if base is None or base is type(None) or _is_content_type(base):
        return RESULT_DYNAMIC, None
    schema = _schema.object_schema(tp)
    if schema is not None:
        return RESULT_OBJECT, schema
    if _mentions_any(base):
        # `list[Any]` and the like promise nothing a client could validate, and often carry content blocks.
        return RESULT_DYNAMIC, None
    inner = _schema.value_schema(tp)
    defs = inner.pop("$defs", None)
    wrapped: dict[str, Any] = {"type": "object", "properties": {"result": inner}, "required": ["result"]}
    if defs:
        wrapped["$defs"] = defs
    return RESULT_WRAPPED, wrapped


def _mentions_any(tp: Any) -> bool:
    return tp is Any or any(_mentions_any(a) for a in typing.get_args(tp))


def _is_content_type(tp: Any) -> bool:
    if isinstance(tp, type) and issubclass(tp, CONTENT_TYPES):
        return True
    origin = typing.get_origin(tp)
    if origin in (list, tuple, typing.Union, types.UnionType):
        return any(_is_content_type(a) for a in typing.get_args(tp) if a is not Ellipsis)
    return False


@dataclasses.dataclass(slots=True)
class Signature:
    """A handler's parameters as the protocol sees them (the Context parameter set aside)."""

    hints: dict[str, Any]
    ctx_param: str | None
    params: dict[str, Any]
    required: list[str]
    defaults: dict[str, Any]
    var_keyword: bool = False


def common_fields(
    definition: dict[str, Any],
    *,
    title: str | None,
    description: str | None,
    icons: list[dict[str, Any]] | None,
    meta: dict[str, Any] | None,
) -> dict[str, Any]:
    """The fields tools, resources and prompts share (`description` is kept even when empty)."""
    if title is not None:
        definition["title"] = title
    if description is not None:
        definition["description"] = description
    if icons:
        definition["icons"] = icons
    if meta:
        definition["_meta"] = meta
    return definition


def analyze_signature(fn: Callable[..., Any], name: str, kind: str, *, allow_kwargs: bool = False) -> Signature:
    sig = inspect.signature(fn)
    hints = _hints(fn)
    out = Signature(hints, None, {}, [], {})
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD and allow_kwargs:
            out.var_keyword = True
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{kind} {name!r}: *args/**kwargs parameters are not supported")
        if p.kind is p.POSITIONAL_ONLY:
            raise TypeError(f"{kind} {name!r}: positional-only parameter {p.name!r} is not supported")
        tp = hints.get(p.name, Any)
        if _is_context(tp):
            out.ctx_param = p.name
            continue
        out.params[p.name] = tp
        if p.default is p.empty:
            out.required.append(p.name)
        else:
            out.defaults[p.name] = p.default
    return out


def is_async_callable(fn: Callable[..., Any]) -> bool:
    target = inspect.unwrap(fn)
    # A callable object with `async def __call__` is async too.
    return inspect.iscoroutinefunction(target) or inspect.iscoroutinefunction(type(target).__call__)


def build_tool(
    tool_id: int,
    fn: Callable[..., Any],
    *,
    name: str | None,
    title: str | None,
    description: str | None,
    annotations: dict[str, Any] | None,
    output_schema: dict[str, Any] | None,
    structured_output: bool | None,
    blocking: bool,
    icons: list[dict[str, Any]] | None,
    meta: dict[str, Any] | None,
    input_schema: dict[str, Any] | None = None,
    task: bool | Literal["optional", "required"] = False,
) -> ToolSpec:
    if not callable(fn):
        raise TypeError(f"a tool must be callable, not {fn!r}")
    tool_name = name or getattr(fn, "__name__", None)
    if not tool_name or tool_name == "<lambda>":
        raise ValueError("this tool needs a name=")
    if len(tool_name) > 128 or not set(tool_name) <= _NAME_CHARS:
        raise ValueError(f"tool name {tool_name!r} must be 1-128 characters of A-Z a-z 0-9 _ - .")
    sig = analyze_signature(fn, tool_name, "tool", allow_kwargs=input_schema is not None)
    hints, ctx_param, params, required, defaults = sig.hints, sig.ctx_param, sig.params, sig.required, sig.defaults
    if input_schema is not None:
        # An explicit schema is published verbatim and validated in Rust; the function takes its properties
        # as keyword arguments (all of them, with **kwargs).
        if input_schema.get("type") != "object":
            raise ValueError(f'tool {tool_name!r}: input_schema must be an object schema ("type": "object")')
        params = {}
    schemas, defs = _schema.param_schemas(params)
    properties: dict[str, Any] = {}
    for pname, ps in schemas.items():
        prop = ps.schema
        if pname in defaults:
            # A default that has no JSON form is simply not published.
            with contextlib.suppress(TypeError, msgspec.EncodeError):
                prop["default"] = msgspec.to_builtins(defaults[pname])
        properties[pname] = prop
    if input_schema is None:
        input_schema = {"type": "object", "properties": properties}
        if required:
            input_schema["required"] = required
        if defs:
            input_schema["$defs"] = defs

    result_kind, derived_output = _result_kind(hints.get("return", inspect.Signature.empty), structured_output)
    if output_schema is not None:
        if output_schema.get("type") != "object":
            raise ValueError(f'tool {tool_name!r}: output_schema must be an object schema ("type": "object")')
        derived_output = output_schema
        if result_kind != RESULT_WRAPPED:
            result_kind = RESULT_OBJECT

    definition: dict[str, Any] = {"name": tool_name}
    doc = description if description is not None else inspect.getdoc(fn)
    common_fields(definition, title=title, description=doc or "", icons=icons, meta=meta)
    definition["inputSchema"] = input_schema
    if derived_output is not None:
        definition["outputSchema"] = derived_output
    if annotations:
        definition["annotations"] = annotations
    if task:
        definition["execution"] = {"taskSupport": "required" if task == "required" else "optional"}

    is_async = is_async_callable(fn)
    if is_async and blocking:
        raise ValueError(f"tool {tool_name!r}: blocking=True is for sync functions; async ones never block the loop")
    return ToolSpec(
        id=tool_id,
        name=tool_name,
        fn=fn,
        is_async=is_async,
        blocking=blocking,
        ctx_param=ctx_param,
        converters=tuple((n, ps.convert) for n, ps in schemas.items() if ps.convert is not None),
        result_kind=result_kind,
        definition=definition,
        accepts=list(params) if not sig.var_keyword else None,
    )


def json_bytes(value: Any) -> bytes:
    if isinstance(value, msgspec.Struct):
        return msgspec.json.encode(value)
    pyd = sys.modules.get("pydantic")
    if pyd is not None and isinstance(value, pyd.BaseModel):
        return value.model_dump_json(by_alias=True).encode()
    return orjson.dumps(value, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if isinstance(value, enum.Enum):
        return value.value
    pyd = sys.modules.get("pydantic")
    if pyd is not None and isinstance(value, pyd.BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, (set, frozenset)):
        items: set[Any] | frozenset[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return list(items)
    raise TypeError(f"cannot serialize {type(value).__name__} to JSON")


def _block(item: Any) -> dict[str, Any]:
    if isinstance(item, CONTENT_TYPES):
        return item.to_json()
    if isinstance(item, str):
        return {"type": "text", "text": item}
    return {"type": "text", "text": json_bytes(item).decode()}


def _has_content(value: Any) -> bool:
    if isinstance(value, CONTENT_TYPES):
        return True
    if isinstance(value, (list, tuple)):
        items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        return any(isinstance(i, CONTENT_TYPES) for i in items)
    return False


def respond(handle: CallHandle, spec: ToolSpec, value: Any) -> None:
    """Answers `handle` with `value` shaped as a CallToolResult (serialized once)."""
    kind = spec.result_kind
    if kind == RESULT_TEXT and value.__class__ is str:
        handle.respond_text(value)
    elif kind == RESULT_WRAPPED and not _has_content(value):
        handle.respond_wrapped(json_bytes(value), value if value.__class__ is str else None)
    elif kind == RESULT_OBJECT:
        handle.respond_structured(json_bytes(value))
    elif isinstance(value, str):
        handle.respond_text(value)
    elif value is None:
        handle.respond_content(b"[]")
    elif isinstance(value, CONTENT_TYPES):
        # Blocks an older protocol version predates are rewritten for it in the core.
        handle.respond_content(orjson.dumps([value.to_json()]))
    elif isinstance(value, (list, tuple)):
        items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        handle.respond_content(orjson.dumps([_block(i) for i in items]))
    elif isinstance(value, dict) or dataclasses.is_dataclass(value) or isinstance(value, msgspec.Struct):
        handle.respond_structured(json_bytes(value))
    else:
        pyd = sys.modules.get("pydantic")
        if pyd is not None and isinstance(value, pyd.BaseModel):
            handle.respond_structured(json_bytes(value))
        else:
            handle.respond_text(json_bytes(value).decode())
