"""What the client is told when a handler fails unexpectedly.

An exception other than the ones meant for the client (`ToolError`, `McpError`/`ProtocolError`,
`ResourceNotFound`, ...) may carry internals in its message: hosts, paths, SQL. By default
(`Server(mask_error_details=True)`) the client gets a generic message with an error id; the traceback is logged
under the same id, so an operator finds it from what the user reports.
"""

from __future__ import annotations

import logging
import secrets

__all__ = ["unexpected_failure"]

_logger = logging.getLogger("ferromcp")


def unexpected_failure(what: str, exc: BaseException, *, mask: bool) -> str:
    """Logs `exc` (with its traceback) under a new error id and returns the client's message: `what (error id
    …)`, or with `mask=False` `what: <exception message> (error id …)`."""
    error_id = secrets.token_hex(8)
    _logger.error("%s (error id %s)", what, error_id, exc_info=exc)
    if mask:
        return f"{what} (error id {error_id})"
    return f"{what}: {exc} (error id {error_id})"
