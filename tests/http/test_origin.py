"""Which requests reach the endpoint: Host and Origin (DNS rebinding protection), and the path."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.support.inprocess import served
from tests.support.procs import HttpServerProcess
from tests.support.wire import SSE_HEADERS, Wire, assert_rpc_error, port_of


async def refused_everywhere(wire: Wire, headers: dict[str, str], *, also_get: bool) -> None:
    """`headers` gets 403 on initialize, on a session's POST and on its GET (or DELETE); the session lives on."""
    session = await wire.initialize()
    assert_rpc_error(wire, await wire.post(wire.init_request(), headers=headers), 403)
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers=headers), 403)
    if also_get:
        assert_rpc_error(wire, await wire.get(session, headers=headers), 403)
    else:
        assert_rpc_error(wire, await wire.delete(session, headers=headers), 403)
    assert (await wire.ping(session)).status_code == 200  # a refused DELETE did not end it
    await wire.assert_serving()


@pytest.mark.parametrize(
    "host", ["evil.example.com", "evil.example.com:80", "127.0.0.2.nip.io", "localhost.evil.example.com"]
)
async def test_foreign_host_is_403(wire: Wire, host: str) -> None:
    await refused_everywhere(wire, {"Host": host}, also_get=True)


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example.com",
        "null",
        "http://127.0.0.1.evil.example.com",
        "http://localhost.evil.example.com:80",
        "http://localhost:80.evil.example.com",
        "file://localhost",
    ],
)
async def test_foreign_origin_is_403(wire: Wire, origin: str) -> None:
    await refused_everywhere(wire, {"Origin": origin}, also_get=False)


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:{port}", "http://127.0.0.1:{port}"),
        ("127.0.0.1:{port}", None),
        ("LOCALHOST:{port}", "http://localhost:{port}"),
        # Any port on the loopback names: a forwarded port (ssh -L, a container port map) keeps the client's Host,
        # and a local web app on another port is a local origin.
        ("127.0.0.1:9999", "http://localhost:3000"),
        ("localhost", "https://[::1]:8443"),
        ("[::1]:1", None),
    ],
)
async def test_loopback_host_and_origin_accepted(
    wire: Wire, http_server: HttpServerProcess, host: str, origin: str | None
) -> None:
    headers = {"Host": host.format(port=http_server.port)}
    if origin:
        headers["Origin"] = origin.format(port=http_server.port)
    session = await wire.initialize(headers=headers)
    resp = await wire.post(wire.call_request("add", {"a": 1, "b": 2}), session, headers=headers)
    assert resp.status_code == 200
    assert wire.messages(resp)[0]["result"]["structuredContent"] == {"result": 3}


async def test_custom_allowed_hosts_and_origins() -> None:
    async with served(allowed_hosts=["mcp.example.test"], allowed_origins=["https://app.example.test"]) as wire:
        port = port_of(wire.url)
        ok = {"Host": "mcp.example.test", "Origin": "https://app.example.test"}
        wire.client.headers.update({"Host": "mcp.example.test"})
        session = await wire.initialize(headers=ok)
        _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})  # no Origin (not a browser): fine
        assert result["structuredContent"] == {"result": 3}
        # The custom lists replace the loopback defaults.
        for headers in [
            {"Host": f"127.0.0.1:{port}"},
            {"Host": "mcp.example.test", "Origin": "http://mcp.example.test"},
            {"Host": "mcp.example.test", "Origin": f"http://127.0.0.1:{port}"},
        ]:
            assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers=headers), 403)
        assert (await wire.post(wire.request("ping"), session, headers=ok)).status_code == 200


async def test_any_port_patterns() -> None:
    async with served(allowed_hosts=["mcp.example.test:*"], allowed_origins=["https://app.example.test:*"]) as wire:
        wire.client.headers.update({"Host": "mcp.example.test:8443"})
        session = await wire.initialize(headers={"Origin": "https://app.example.test:3000"})
        for headers in [{"Host": "mcp.example.test"}, {"Origin": "https://app.example.test"}]:
            assert (await wire.post(wire.request("ping"), session, headers=headers)).status_code == 200
        for headers in [
            {"Host": "mcp.example.test.evil.example:80"},
            {"Host": "mcp.example.test:80x"},
            {"Host": "127.0.0.1"},  # the custom list replaces the loopback default
            {"Origin": "http://app.example.test:3000"},
            {"Origin": "https://app.example.test.evil.example"},
        ]:
            assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers=headers), 403)
        await wire.assert_serving()


@contextlib.asynccontextmanager
async def forwarded(port: int) -> AsyncIterator[int]:
    """A TCP port forward (what `ssh -L` or a container port map does) to 127.0.0.1:`port`; yields its own port."""
    writers: list[asyncio.StreamWriter] = []
    tasks: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", port)
        writers.extend([client_writer, server_writer])
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(pipe(reader, writer))
            tasks.add(task)

    listener = await asyncio.start_server(forward, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1]
    finally:
        listener.close()
        for writer in writers:
            writer.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await listener.wait_closed()


async def test_the_official_client_through_a_port_forward(http_server: HttpServerProcess) -> None:
    async with (
        forwarded(http_server.port) as port,
        Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp"), mode="legacy") as client,
    ):
        assert (await client.call_tool("add", {"a": 1, "b": 2})).structured_content == {"result": 3}


@pytest.mark.parametrize("path", ["/", "/mcp/", "/MCP", "/other", "/mcp/extra", "/mcpx"])
async def test_other_path_is_404(wire: Wire, path: str) -> None:
    session = await wire.initialize()
    url = httpx2.URL(wire.url).copy_with(path=path)
    assert_rpc_error(wire, await wire.post(wire.init_request(), url=url), 404)
    resp = await wire.client.get(url, headers={**SSE_HEADERS, **session.headers})
    assert_rpc_error(wire, resp, 404)
    # A query string is not part of the path.
    resp = await wire.post(wire.request("ping"), session, url=wire.url + "?x=1")
    assert resp.status_code == 200 and wire.messages(resp)[0]["result"] == {}
    await wire.assert_serving()
