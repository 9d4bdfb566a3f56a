"""The README is the front door: its quick-start code runs as shown, and CI runs the test command it gives."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


async def test_quick_start_serves_through_the_official_client(tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(code_blocks("python")[0])
    params = StdioServerParameters(command=sys.executable, args=[str(script)])
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        assert init.server_info.name == "demo"
        assert init.instructions == "Arithmetic and echo."
        assert [t.name for t in (await session.list_tools()).tools] == ["add", "countdown"]
        assert (await session.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
        done = await session.call_tool("countdown", {"start": 2}, progress_callback=on_progress)
        assert done.content[0].text == "liftoff"  # type: ignore[union-attr]
    assert progress == [0, 1, 2]


def test_ci_runs_the_readme_test_command() -> None:
    setup = next(block for block in code_blocks("bash") if "make test" in block)
    test_command = next(line.split("#")[0].strip() for line in setup.splitlines() if line.startswith("make test"))
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(rf"^{re.escape(test_command)}$", ci, flags=re.MULTILINE), ci
