"""A server whose dispatcher loses the calls of one tool (a stand-in for a runtime bug: the handle is dropped
unanswered), and with a sync tool that raises SystemExit inline: for the tests of lost and aborted calls."""

from __future__ import annotations

from typing import Any

from ferromcp import Server
from ferromcp._runtime import Dispatcher

server = Server("lossy")


@server.tool
def ok(text: str) -> str:
    """Answers."""
    return text


@server.tool
async def lost() -> str:
    """Never runs: the dispatcher drops its handle."""
    return "unreachable"


@server.tool
def stop() -> str:
    """Raises SystemExit from a sync handler that runs inline."""
    raise SystemExit(3)


_start_task = Dispatcher._start_task  # pyright: ignore[reportPrivateUsage]


def _losing(self: Dispatcher, spec: Any, handle: Any, args: dict[str, Any]) -> None:
    if spec.name == "lost":
        return  # dropped: no task, no answer
    _start_task(self, spec, handle, args)


Dispatcher._start_task = _losing  # type: ignore[method-assign]

if __name__ == "__main__":
    server.run()
