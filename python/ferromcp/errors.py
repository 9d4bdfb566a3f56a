"""Every exception ferromcp raises or lets handlers raise, in one place.

Raised by handlers (they become protocol answers):
- `ToolError`: the tool failed; the client gets an `isError` result with its message.
- `ResourceNotFound`: the resource does not exist (-32002).
- `UrlElicitationRequired`: the user must complete URL-mode elicitations first (-32042).
- `ProtocolError(code, message, data)` (an `McpError`): answer the request with that JSON-RPC error instead of a
  tool error (in a task: the task ends `failed`).
- `MissingClientCapability` (a `ProtocolError`): a 2026-07-28 request needs a client capability it did not
  declare (-32021, HTTP 400). `ctx.sample()`, `ctx.elicit()` and `ctx.list_roots()` raise it themselves.

Raised through handlers (let it propagate):
- `InputRequired` (a `BaseException`): on a 2026-07-28 request, `ctx.elicit()`, `ctx.sample()` or
  `ctx.list_roots()` has no answer yet; the client gets an input-required result and retries.

Raised by ferromcp:
- `DefinitionError` (a `ValueError`): a tool, resource, template or prompt definition, or its schema, is
  invalid; raised at registration.
- `ResultError` (a `ValueError`): a result does not conform to the tool's `outputSchema`.
- `McpError`: the client answered a request from the server (`ctx.elicit`, `ctx.sample`, ...) with an error,
  or could not be asked.
- `CallFinishedError`, `LimitError` (`RuntimeError`s): a call was used after it finished, or a bound was
  reached; `Context` turns them into `McpError` for handlers.
"""

from __future__ import annotations

from ._context import InputRequired, McpError, MissingClientCapability, ProtocolError
from ._core import CallFinishedError, DefinitionError, LimitError, ResultError
from ._surface import ResourceNotFound
from ._tools import ToolError, UrlElicitationRequired

__all__ = [
    "CallFinishedError",
    "DefinitionError",
    "InputRequired",
    "LimitError",
    "McpError",
    "MissingClientCapability",
    "ProtocolError",
    "ResourceNotFound",
    "ResultError",
    "ToolError",
    "UrlElicitationRequired",
]
