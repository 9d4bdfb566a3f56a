"""Which requests reach the endpoint: Host and Origin (DNS rebinding protection), and the path."""

from __future__ import annotations

import httpx2
import pytest

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
    "origin", ["http://evil.example.com", "null", "http://127.0.0.1.evil.example.com", "http://localhost:1"]
)
async def test_foreign_origin_is_403(wire: Wire, origin: str) -> None:
    await refused_everywhere(wire, {"Origin": origin}, also_get=False)


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:{port}", "http://127.0.0.1:{port}"),
        ("127.0.0.1:{port}", None),
        ("LOCALHOST:{port}", "http://localhost:{port}"),
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
