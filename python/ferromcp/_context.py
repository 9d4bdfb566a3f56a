"""The per-call `Context` a tool can ask for by annotating a parameter with it."""

from __future__ import annotations

import logging
import typing
from typing import Any, Literal

import orjson

if typing.TYPE_CHECKING:
    from ._core import CallHandle
    from ._server import Server

__all__ = ["Context", "LogLevel"]

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
_logger = logging.getLogger("ferromcp")


class Context:
    """What a tool knows about the request it is serving, and how it talks back while it runs.

    Declare a parameter annotated `Context` (any name) and it is injected; it never appears in the input schema.
    """

    __slots__ = ("_handle", "_server")

    def __init__(self, handle: CallHandle, server: Server) -> None:
        self._handle = handle
        self._server = server

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
    def is_cancelled(self) -> bool:
        """True once the client cancelled this call (or it was answered). Long sync loops should check it."""
        return not self._handle.active

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
