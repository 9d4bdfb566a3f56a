"""The benchmark's ferromcp server: two trivial tools, so the numbers measure the runtime, not the handlers."""

from __future__ import annotations

from ferromcp import Server

server = Server("bench")


@server.tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    server.run()
