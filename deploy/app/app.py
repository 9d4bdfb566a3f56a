"""The app the deployment kit serves: replace it with yours (any file `ferromcp run` accepts).

Two things in it matter to every deployment with more than one replica, whatever the tools:
- `FERROMCP_REQUEST_STATE_KEYS` (comma-separated 32-byte secrets, hex or base64; the first seals, all open): an
  input-required round trip of the 2026-07-28 era seals its state on one replica and may retry on another, which
  can open it only with the same keys. Without them each replica seals with its own random key.
- `whoami` names the replica that answered (`FERROMCP_REPLICA`, else the host name): handy behind a balancer.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass

from ferromcp import Context, Server

_keys = os.environ.get("FERROMCP_REQUEST_STATE_KEYS")
REPLICA = os.environ.get("FERROMCP_REPLICA") or socket.gethostname()

server = Server(
    "ferromcp-app",
    "1.0.0",
    instructions="An example app served by the ferromcp deployment kit.",
    request_state_keys=[k.strip() for k in _keys.split(",") if k.strip()] if _keys else None,
)


@server.tool
def whoami() -> str:
    """The name of the replica that answered."""
    return REPLICA


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
async def countdown(start: int, ctx: Context, pause: float = 0.0) -> str:
    """Count down to zero, reporting progress (the answer is then an SSE stream), `pause` seconds per step."""
    for n in range(start, -1, -1):
        await ctx.report_progress(start - n, start, f"{n} left")
        if n and pause:
            await asyncio.sleep(pause)
    return "liftoff"


@dataclass
class Name:
    name: str


@server.tool
async def greet(ctx: Context) -> str:
    """Ask the user's name (elicitation), then greet them."""
    answer = await ctx.elicit("What is your name?", Name)
    if answer.action != "accept":
        return "Hello, stranger."
    return f"Hello, {answer.content.name}."
