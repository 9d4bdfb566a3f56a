"""Talk to an MCP server over stdio with the official MCP Python SDK client.

python examples/talk.py examples/quickstart.py          # list the tools and call each with sample input
python examples/talk.py examples/quickstart.py -i       # then type calls yourself: add {"a": 1, "b": 2}
"""

from __future__ import annotations

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

SAMPLES: dict[str, dict[str, object]] = {
    "echo": {"text": "hello from the official client"},
    "add": {"a": 2, "b": 40},
    "weather": {"city": "Lisbon"},
    "countdown": {"start": 3},
}


async def show(session: ClientSession, name: str, arguments: dict[str, object]) -> None:
    async def progress(done: float, total: float | None, message: str | None) -> None:
        print(f"    progress {done}/{total} {message or ''}")

    result = await session.call_tool(name, arguments, progress_callback=progress)
    print(f"  {name}({json.dumps(arguments)})")
    for block in result.content:
        print(f"    -> {block.model_dump_json(exclude_none=True)}")
    if result.structured_content is not None:
        print(f"    structured: {json.dumps(result.structured_content)}")


async def main(script: str, interactive: bool) -> None:
    params = StdioServerParameters(command=sys.executable, args=[script])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        print(f"connected to {init.server_info.name} {init.server_info.version} (protocol {init.protocol_version})")
        tools = (await session.list_tools()).tools
        print("tools:", ", ".join(t.name for t in tools))
        for tool in tools:
            if tool.name in SAMPLES:
                await show(session, tool.name, SAMPLES[tool.name])
        if not interactive:
            return
        print('type a call like: add {"a": 1, "b": 2}   (empty line to quit)')
        while line := (await asyncio.to_thread(sys.stdin.readline)).strip():
            name, _, args = line.partition(" ")
            try:
                await show(session, name, json.loads(args or "{}"))
            except Exception as exc:
                print(f"    error: {exc}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "examples/quickstart.py", "-i" in sys.argv))
