"""Resources, resource templates, prompts and completion: registration and result shaping.

Listing, URI-template matching, required-argument checks and pagination happen in the Rust core; these
specs only say how to call the user's function and how to turn its return value into the protocol's result.
"""

from __future__ import annotations

import base64
import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, Literal

import msgspec
import orjson

from ._content import CONTENT_TYPES, Annotations
from ._context import McpError, respond_with_error
from ._failures import unexpected_failure
from ._tools import (
    Handler,
    ToolError,
    analyze_signature,
    common_fields,
    is_async_callable,
    json_bytes,
)

if typing.TYPE_CHECKING:
    from ._core import CallHandle

__all__ = [
    "Completion",
    "CompletionArgument",
    "CompletionContext",
    "CompletionSpec",
    "Message",
    "PromptRef",
    "PromptSpec",
    "ResourceContents",
    "ResourceNotFound",
    "ResourceRef",
    "ResourceSpec",
    "build_completion",
    "build_prompt",
    "build_resource",
]

RESOURCE_NOT_FOUND = -32002
INTERNAL_ERROR = -32603
_TEMPLATE_VAR = re.compile(r"\{[+#./?&]?([A-Za-z0-9_,*]+)\}")
MAX_COMPLETIONS = 100


class ResourceNotFound(Exception):
    """Raise in a resource handler when the URI names nothing: the client gets -32002 (resource not found)."""


class _ReadFailed(Exception):
    """A resource handler's exception, with the URI that was being read."""

    def __init__(self, uri: str, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.uri = uri
        self.cause = cause


def _reader(fn: Callable[..., Any], is_async: bool, takes_uri: bool) -> Callable[..., Any]:
    """Wraps a resource handler so its result comes back with the URI it read (and failures carry it too)."""
    if is_async:

        async def read_async(uri: str, **kwargs: Any) -> tuple[str, Any]:
            try:
                return uri, await (fn(uri=uri, **kwargs) if takes_uri else fn(**kwargs))
            except Exception as exc:
                raise _ReadFailed(uri, exc) from exc

        return read_async

    def read(uri: str, **kwargs: Any) -> tuple[str, Any]:
        try:
            return uri, (fn(uri=uri, **kwargs) if takes_uri else fn(**kwargs))
        except Exception as exc:
            raise _ReadFailed(uri, exc) from exc

    return read


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceContents:
    """One item of a `resources/read` result: `text`, or binary `blob`. `uri` defaults to the URI read."""

    text: str | None = None
    blob: bytes | str | None = None
    mime_type: str | None = None
    uri: str | None = None
    meta: dict[str, Any] | None = None

    def to_json(self, uri: str, default_mime: str | None) -> dict[str, Any]:
        if (self.text is None) == (self.blob is None):
            raise ValueError("ResourceContents needs exactly one of text= or blob=")
        out: dict[str, Any] = {"uri": self.uri or uri}
        mime = self.mime_type or default_mime
        if mime is not None:
            out["mimeType"] = mime
        if self.text is not None:
            out["text"] = self.text
        else:
            blob = self.blob
            out["blob"] = blob if isinstance(blob, str) else base64.b64encode(blob or b"").decode("ascii")
        if self.meta is not None:
            out["_meta"] = self.meta
        return out


def _converters(params: dict[str, Any]) -> tuple[tuple[str, Callable[[Any], Any]], ...]:
    """Arguments of resources and prompts arrive as strings: convert to the annotated types (`id: int`)."""
    out: list[tuple[str, Callable[[Any], Any]]] = []
    for name, tp in params.items():
        if tp is str or tp is Any:
            continue

        def convert(value: Any, tp: Any = tp) -> Any:
            return msgspec.convert(value, tp, strict=False)

        out.append((name, convert))
    return tuple(out)


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class ResourceSpec(Handler):
    uri: str
    mime_type: str | None
    definition: dict[str, Any]
    is_template: bool

    def respond(self, handle: CallHandle, value: Any) -> None:
        uri, result = value  # the wrapper built in build_resource returns the URI read with the result
        items: list[Any] = list(result) if isinstance(result, (list, tuple)) else [result]  # pyright: ignore[reportUnknownArgumentType]
        contents = [self._content(uri, item) for item in items]
        handle.respond_raw(orjson.dumps({"contents": contents}))

    def _content(self, uri: str, item: Any) -> dict[str, Any]:
        if isinstance(item, ResourceContents):
            return item.to_json(uri, self.mime_type)
        if isinstance(item, str):
            return {"uri": uri, "mimeType": self.mime_type or "text/plain", "text": item}
        if isinstance(item, (bytes, bytearray, memoryview)):
            raw: bytes | bytearray | memoryview = item  # pyright: ignore[reportUnknownVariableType]
            blob = base64.b64encode(bytes(raw)).decode("ascii")
            return {"uri": uri, "mimeType": self.mime_type or "application/octet-stream", "blob": blob}
        return {"uri": uri, "mimeType": self.mime_type or "application/json", "text": json_bytes(item).decode()}

    def fail(self, handle: CallHandle, exc: BaseException, *, mask: bool = True) -> None:
        uri = self.uri
        if isinstance(exc, _ReadFailed):
            uri, exc = exc.uri, exc.cause
        if isinstance(exc, ResourceNotFound):
            handle.respond_error(
                RESOURCE_NOT_FOUND, str(exc) or f"Resource not found: {uri}", orjson.dumps({"uri": uri})
            )
            return
        if isinstance(exc, McpError):
            respond_with_error(handle, exc)
            return
        if isinstance(exc, ToolError):  # a message meant for the client
            handle.respond_error(INTERNAL_ERROR, f"Error reading resource {uri}: {exc}")
            return
        handle.respond_error(INTERNAL_ERROR, unexpected_failure(f"Error reading resource {uri}", exc, mask=mask))


def build_resource(
    handler_id: int,
    fn: Callable[..., Any],
    uri: str,
    *,
    name: str | None,
    title: str | None,
    description: str | None,
    mime_type: str | None,
    size: int | None,
    annotations: Annotations | dict[str, Any] | None,
    icons: list[dict[str, Any]] | None,
    meta: dict[str, Any] | None,
    blocking: bool,
) -> ResourceSpec:
    if not callable(fn):
        raise TypeError(f"a resource handler must be callable, not {fn!r}")
    variables = [v.rstrip("*") for group in _TEMPLATE_VAR.findall(uri) for v in group.split(",")]
    is_template = "{" in uri
    label = name or getattr(fn, "__name__", None) or uri
    sig = analyze_signature(fn, label, "resource")
    params = dict(sig.params)
    params.pop("uri", None)
    missing = [p for p in sig.required if p not in variables and p != "uri"]
    if missing:
        raise TypeError(f"resource {uri!r}: parameters {missing} are not variables of the URI")
    unused = [v for v in variables if v not in sig.params]
    if unused:
        raise TypeError(f"resource {uri!r}: the handler does not take the URI variables {unused}")
    definition: dict[str, Any] = {"uriTemplate" if is_template else "uri": uri, "name": label}
    common_fields(definition, title=title, description=description or inspect.getdoc(fn), icons=icons, meta=meta)
    if mime_type is not None:
        definition["mimeType"] = mime_type
    if size is not None and not is_template:
        definition["size"] = size
    if annotations is not None:
        definition["annotations"] = annotations.to_json() if isinstance(annotations, Annotations) else annotations
    is_async = is_async_callable(fn)
    if is_async and blocking:
        raise ValueError(f"resource {uri!r}: blocking=True is for sync functions")
    return ResourceSpec(
        id=handler_id,
        uri=uri,
        fn=_reader(fn, is_async, "uri" in sig.params),
        is_async=is_async,
        blocking=blocking,
        ctx_param=sig.ctx_param,
        converters=_converters(params),
        mime_type=mime_type,
        definition=definition,
        is_template=is_template,
    )


# -- prompts -------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One prompt message: `content` is text or a content block (Image, Audio, EmbeddedResource, ...)."""

    content: Any
    role: Literal["user", "assistant"] = "user"

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "content": _prompt_content(self.content)}


def _prompt_content(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"type": "text", "text": content}
    if isinstance(content, CONTENT_TYPES):
        return content.to_json()
    if isinstance(content, dict):
        return typing.cast("dict[str, Any]", content)
    return {"type": "text", "text": json_bytes(content).decode()}


def _prompt_message(item: Any) -> dict[str, Any]:
    if isinstance(item, Message):
        return item.to_json()
    if isinstance(item, dict) and "role" in item and "content" in item:
        message = typing.cast("dict[str, Any]", item)
        return {"role": message["role"], "content": _prompt_content(message["content"])}
    return {"role": "user", "content": _prompt_content(item)}


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class PromptSpec(Handler):
    name: str
    definition: dict[str, Any]

    def respond(self, handle: CallHandle, value: Any) -> None:
        items: list[Any] = list(value) if isinstance(value, (list, tuple)) else [value]  # pyright: ignore[reportUnknownArgumentType]
        result: dict[str, Any] = {"messages": [_prompt_message(i) for i in items]}
        if "description" in self.definition:
            result["description"] = self.definition["description"]
        handle.respond_raw(orjson.dumps(result))

    def fail(self, handle: CallHandle, exc: BaseException, *, mask: bool = True) -> None:
        if isinstance(exc, McpError):
            respond_with_error(handle, exc)
            return
        if isinstance(exc, msgspec.ValidationError):  # an argument's value does not convert to its type
            handle.respond_error(-32602, f"Invalid arguments for prompt {self.name}: {exc}")
            return
        if isinstance(exc, ToolError):  # a message meant for the client
            handle.respond_error(INTERNAL_ERROR, f"Error rendering prompt {self.name}: {exc}")
            return
        if isinstance(exc, (ValueError, TypeError)):
            what = f"Invalid arguments for prompt {self.name}"
            handle.respond_error(-32602, unexpected_failure(what, exc, mask=mask))
            return
        handle.respond_error(INTERNAL_ERROR, unexpected_failure(f"Error rendering prompt {self.name}", exc, mask=mask))


def build_prompt(
    handler_id: int,
    fn: Callable[..., Any],
    *,
    name: str | None,
    title: str | None,
    description: str | None,
    icons: list[dict[str, Any]] | None,
    meta: dict[str, Any] | None,
) -> PromptSpec:
    if not callable(fn):
        raise TypeError(f"a prompt must be callable, not {fn!r}")
    prompt_name = name or getattr(fn, "__name__", None)
    if not prompt_name or prompt_name == "<lambda>":
        raise ValueError("this prompt needs a name=")
    sig = analyze_signature(fn, prompt_name, "prompt")
    arguments: list[dict[str, Any]] = []
    for pname, tp in sig.params.items():
        arg: dict[str, Any] = {"name": pname}
        if typing.get_origin(tp) is typing.Annotated:
            text = next((m for m in typing.get_args(tp)[1:] if isinstance(m, str)), None)
            if text is not None:
                arg["description"] = text
        arg["required"] = pname in sig.required
        arguments.append(arg)
    definition: dict[str, Any] = {"name": prompt_name}
    common_fields(definition, title=title, description=description or inspect.getdoc(fn), icons=icons, meta=meta)
    if arguments:
        definition["arguments"] = arguments
    params = {
        k: (typing.get_args(v)[0] if typing.get_origin(v) is typing.Annotated else v) for k, v in sig.params.items()
    }
    return PromptSpec(
        id=handler_id,
        name=prompt_name,
        fn=fn,
        is_async=is_async_callable(fn),
        ctx_param=sig.ctx_param,
        converters=_converters(params),
        definition=definition,
    )


# -- completion ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class PromptRef:
    """Completion is for an argument of this prompt."""

    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceRef:
    """Completion is for a variable of this resource template."""

    uri: str


@dataclasses.dataclass(frozen=True, slots=True)
class CompletionArgument:
    name: str
    value: str


@dataclasses.dataclass(frozen=True, slots=True)
class CompletionContext:
    """Values the user already gave for the other arguments."""

    arguments: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Completion:
    """Suggested values (at most 100 are sent), the total if known, and whether there are more."""

    values: list[str]
    total: int | None = None
    has_more: bool | None = None


def _to_ref(ref: dict[str, str]) -> PromptRef | ResourceRef:
    return PromptRef(ref["name"]) if ref["type"] == "ref/prompt" else ResourceRef(ref["uri"])


def _to_argument(argument: dict[str, str]) -> CompletionArgument:
    return CompletionArgument(argument["name"], argument["value"])


def _to_context(context: Any) -> CompletionContext | None:
    if not isinstance(context, dict):
        return None
    arguments: dict[str, Any] = typing.cast("dict[str, Any]", context).get("arguments") or {}
    return CompletionContext({str(k): str(v) for k, v in arguments.items()})


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class CompletionSpec(Handler):
    def respond(self, handle: CallHandle, value: Any) -> None:
        if value is None:
            value = Completion([])
        if not isinstance(value, Completion):
            value = Completion(list(value))
        values = [str(v) for v in value.values]
        completion: dict[str, Any] = {"values": values[:MAX_COMPLETIONS]}
        total = value.total if value.total is not None else len(values)
        completion["total"] = total
        completion["hasMore"] = value.has_more if value.has_more is not None else total > MAX_COMPLETIONS
        handle.respond_raw(orjson.dumps({"completion": completion}))

    def fail(self, handle: CallHandle, exc: BaseException, *, mask: bool = True) -> None:
        if isinstance(exc, McpError):
            respond_with_error(handle, exc)
            return
        handle.respond_error(INTERNAL_ERROR, unexpected_failure("Error completing", exc, mask=mask))


def build_completion(handler_id: int, fn: Callable[..., Any]) -> CompletionSpec:
    sig = analyze_signature(fn, getattr(fn, "__name__", "completion"), "completion handler")
    expected = {"ref", "argument", "context"}
    if set(sig.params) - expected or set(sig.required) - expected:
        raise TypeError("a completion handler takes (ref, argument, context) and optionally a Context")
    converters: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        ("ref", _to_ref),
        ("argument", _to_argument),
        ("context", _to_context),
    )
    drop = tuple(k for k in ("ref", "argument", "context") if k not in sig.params)
    return CompletionSpec(
        id=handler_id,
        fn=fn,
        is_async=is_async_callable(fn),
        ctx_param=sig.ctx_param,
        converters=converters,
        drop=drop,
    )
