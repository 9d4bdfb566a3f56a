"""Request methods beyond the protocol's own (an extension's), answered by a Python function.

`server.add_method("skills/list", fn)` registers `fn(params)` (and optionally a `Context`); it returns the whole
result object. Raise `McpError(code, message, data)` for a JSON-RPC error.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ._context import McpError, respond_with_error
from ._failures import unexpected_failure
from ._tools import Handler, analyze_signature, is_async_callable

if typing.TYPE_CHECKING:
    from ._core import CallHandle

__all__ = ["MethodSpec", "build_method"]

INTERNAL_ERROR = -32603


@dataclasses.dataclass(slots=True, eq=False, kw_only=True)
class MethodSpec(Handler):
    name: str

    def respond(self, handle: CallHandle, value: Any) -> None:
        if not isinstance(value, Mapping):
            raise TypeError(f"method {self.name}: the handler must return a result object (a dict)")
        handle.respond_raw(orjson.dumps(value))

    def fail(self, handle: CallHandle, exc: BaseException, *, mask: bool = True) -> None:
        if isinstance(exc, McpError):
            respond_with_error(handle, exc)
            return
        handle.respond_error(INTERNAL_ERROR, unexpected_failure(f"Error in {self.name}", exc, mask=mask))


def build_method(handler_id: int, name: str, fn: Callable[..., Any], *, blocking: bool = False) -> MethodSpec:
    sig = analyze_signature(fn, name, "method handler")
    if list(sig.params) != ["params"]:
        raise TypeError(f"method handler {name!r} takes (params) and optionally a Context")
    return MethodSpec(
        id=handler_id,
        fn=fn,
        is_async=is_async_callable(fn),
        blocking=blocking,
        ctx_param=sig.ctx_param,
        name=name,
    )
