"""The README's example server: a few tools showing the decorator API. Run it, then talk to it over stdio."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Literal

from ferromcp import Context, Server, ToolError

server = Server("quickstart", "1.0.0", instructions="Small demo tools: echo, add, weather, countdown.")


@server.tool
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@dataclass
class Weather:
    city: str
    temperature: float
    unit: Literal["C", "F"]


@server.tool(annotations={"readOnlyHint": True})
def weather(city: Annotated[str, "City name"], unit: Literal["C", "F"] = "C") -> Weather:
    """Current weather for a city (made up, deterministically)."""
    if not city.strip():
        raise ToolError("city must not be empty")
    celsius = float(len(city) * 3 % 35)
    return Weather(city, celsius if unit == "C" else celsius * 9 / 5 + 32, unit)


@server.tool
async def countdown(start: Annotated[int, "Where to start"], ctx: Context) -> str:
    """Count down to zero, reporting progress and logging each step."""
    for n in range(start, -1, -1):
        await ctx.report_progress(start - n, start, f"{n} left")
        await ctx.info(f"tick {n}")
        await asyncio.sleep(0.01)
    return "liftoff"


if __name__ == "__main__":
    server.run()
