"""Version negotiation, batches, shutdown on stdin EOF, stdout hygiene, pagination and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.paths import ROOT
from tests.support.schema import check_transcript
from tests.support.stdio import RawServer

LEGACY = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]


@pytest.mark.parametrize("version", LEGACY)
def test_each_version_is_echoed_and_every_message_fits_its_schema(version: str) -> None:
    raw = RawServer()
    try:
        init = raw.initialize(version)
        assert init["result"]["protocolVersion"] == version
        raw.request(1, "tools/list")
        raw.request(2, "ping")
        raw.request(3, "logging/setLevel", {"level": "debug"})
        raw.send(
            {
                "jsonrpc": "2.0",
                "id": 4,
                "method": "tools/call",
                "params": {"name": "progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "p"}},
            }
        )
        for _ in range(3):
            raw.recv()
        raw.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "logs"}})
        for _ in range(5):
            raw.recv()
        for i, name in enumerate(["add", "typed", "image", "audio", "mixed", "fail_crash", "nothing"], start=6):
            raw.request(i, "tools/call", {"name": name, "arguments": {"a": 1, "b": 2}})
    finally:
        raw.close()
    messages = check_transcript(raw.transcript(), version)
    assert len(messages) == 1 + 3 + 3 + 5 + 7


@pytest.mark.parametrize("requested", ["2026-07-28", "1999-01-01", "draft"])
def test_unsupported_versions_get_the_latest_legacy_version(raw: RawServer, requested: str) -> None:
    assert raw.initialize(requested)["result"]["protocolVersion"] == "2025-11-25"


def test_batches_on_2025_03_26(raw: RawServer) -> None:
    raw.initialize("2025-03-26")
    raw.send(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "slow_add", "arguments": {"a": 1, "b": 1}},
            },
            {"jsonrpc": "2.0", "id": 3, "method": "nope"},
            {"jsonrpc": "2.0", "id": None, "method": "ping"},
        ]
    )
    batch = raw.recv()
    assert isinstance(batch, list)
    by_id = {m.get("id"): m for m in batch}
    assert by_id[1]["result"] == {}
    assert by_id[2]["result"]["structuredContent"] == {"result": 2}
    assert by_id[3]["error"]["code"] == -32601
    assert by_id[None]["error"]["code"] == -32600
    assert len(batch) == 4
    raw.send([{"jsonrpc": "2.0", "method": "notifications/initialized"}])
    raw.assert_quiet()  # a batch of notifications gets no reply at all
    raw.close()
    check_transcript(raw.transcript(), "2025-03-26")


def test_eof_lets_in_flight_calls_finish_then_exits() -> None:
    raw = RawServer()
    raw.initialize()
    for i in range(5):
        raw.send(
            {
                "jsonrpc": "2.0",
                "id": 100 + i,
                "method": "tools/call",
                "params": {"name": "slow_add", "arguments": {"a": i, "b": 0}},
            }
        )
    raw.send(
        {
            "jsonrpc": "2.0",
            "id": 200,
            "method": "tools/call",
            "params": {"name": "blocking_sleep", "arguments": {"seconds": 0.3}},
        }
    )
    started = time.monotonic()
    assert raw.close(timeout=10) == 0
    elapsed = time.monotonic() - started
    answered = sorted(raw.recv()["id"] for _ in range(6))
    assert answered == [100, 101, 102, 103, 104, 200]
    assert elapsed < 5, elapsed


def test_idle_server_exits_promptly_on_eof() -> None:
    raw = RawServer()
    raw.initialize()
    started = time.monotonic()
    assert raw.close(timeout=10) == 0
    assert time.monotonic() - started < 3


def test_print_in_a_handler_goes_to_stderr() -> None:
    raw = RawServer()
    raw.initialize()
    assert raw.request(1, "tools/call", {"name": "noisy"})["result"]["content"][0]["text"] == "quiet"
    raw.close()
    assert b"this line must go to stderr" in raw.stderr
    for _, line in raw.received:
        json.loads(line)


def test_print_at_import_time_goes_where_the_user_expects(tmp_path: Path) -> None:
    # Output before run() is ordinary stdout; only while serving is fd 1 reserved for the protocol.
    script = tmp_path / "chatty.py"
    script.write_text(
        textwrap.dedent("""
        from ferromcp import Server
        server = Server("chatty")
        @server.tool
        def hello() -> str:
            print("from handler")
            return "hi"
        server.run()
    """)
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        input=b"".join(
            json.dumps(m).encode() + b"\n"
            for m in [
                {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}},
                {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "hello"}},
            ]
        ),
        capture_output=True,
        timeout=30,
        check=True,
    )
    lines = proc.stdout.decode().splitlines()
    assert [json.loads(line)["id"] for line in lines] == [0, 1]
    assert b"from handler" in proc.stderr


def test_pagination_with_a_small_page_size(tmp_path: Path) -> None:
    script = tmp_path / "many.py"
    script.write_text(
        textwrap.dedent("""
        from ferromcp import Server
        server = Server("many", page_size=3)
        for i in range(7):
            server.add_tool(lambda i=i: i, name=f"t{i}", description=f"tool {i}")
        server.run()
    """)
    )
    raw = RawServer(script)
    try:
        raw.initialize()
        names: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = raw.request(pages + 1, "tools/list", {"cursor": cursor} if cursor else {})["result"]
            names += [t["name"] for t in page["tools"]]
            pages += 1
            cursor = page.get("nextCursor")
            if cursor is None:
                break
        assert names == [f"t{i}" for i in range(7)]
        assert pages == 3
    finally:
        raw.close()


async def test_cli_runs_a_server_file() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "ferromcp", "run", "examples/quickstart.py:server"], cwd=str(ROOT)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = [t.name for t in (await session.list_tools()).tools]
        assert tools == ["echo", "add", "weather", "countdown"]
        result = await session.call_tool("weather", {"city": "Oslo", "unit": "F"})
        assert result.structured_content is not None and result.structured_content["unit"] == "F"


def test_child_processes_do_not_inherit_the_protocol_pipes(raw: RawServer) -> None:
    raw.initialize()
    fds = raw.request(1, "tools/call", {"name": "child_fds"})["result"]["structuredContent"]["result"]
    assert sorted(fds) == ["0", "1", "2", "3"]  # stdio and the fd listing /proc/self/fd


def _thread_names() -> list[str]:
    return [Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task")]


async def test_cancelling_serve_stdio_stops_reading() -> None:
    from ferromcp import Server

    server = Server("embedded")
    server.add_tool(lambda: "pong", name="ping_tool", description="d")
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        task = asyncio.create_task(server.serve_stdio(in_r, out_w))
        init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}}
        os.write(in_w, json.dumps(init).encode() + b"\n")
        reply = await asyncio.to_thread(os.read, out_r, 65536)
        assert json.loads(reply)["result"]["protocolVersion"] == "2025-11-25"
        assert "ferromcp-stdin" in _thread_names()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert "ferromcp-stdin" not in _thread_names()
        assert "ferromcp-stdout" not in _thread_names()
        # Nothing reads the input any more: what is written stays in the pipe.
        os.write(in_w, b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        assert os.read(in_r, 65536) == b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n'
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)
