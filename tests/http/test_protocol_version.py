"""The MCP-Protocol-Version header: any supported version, an unsupported one, none at all."""

from __future__ import annotations

import pytest

from tests.support.wire import HTTP_VERSIONS, LATEST, SUPPORTED_VERSIONS, Session, Wire, assert_rpc_error


@pytest.mark.parametrize("header_version", SUPPORTED_VERSIONS)
async def test_protocol_version_header_any_supported_version(wire: Wire, header_version: str) -> None:
    # Conformance 0.1.16 sends 2025-03-26 on sessions negotiated at 2025-11-25 (CHECKLIST §3.2, §5.4).
    session = await wire.initialize(LATEST)
    resp = await wire.post(wire.request("ping"), session, headers={"MCP-Protocol-Version": header_version})
    assert resp.status_code == 200, resp.text
    (msg,) = wire.messages(resp, session.version)
    assert msg["result"] == {}
    _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
    assert result["structuredContent"] == {"result": 3}


@pytest.mark.parametrize("header_version", ["2099-01-01", "2025-13-45", "latest", "2024-10-07"])
async def test_protocol_version_header_unsupported_is_400(wire: Wire, header_version: str) -> None:
    session = await wire.initialize()
    bad = {"MCP-Protocol-Version": header_version}
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session, headers=bad), 400)
    assert_rpc_error(wire, await wire.get(session, headers=bad), 400)
    init = wire.init_request()
    assert_rpc_error(wire, await wire.post(init, headers=bad), 400)
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


async def test_protocol_version_header_absent_is_fine(wire: Wire) -> None:
    for version in HTTP_VERSIONS:
        session = await wire.initialize(version)
        bare = Session(session.id, "2025-03-26")  # `headers` of a 2025-03-26 session carry no version header
        assert "MCP-Protocol-Version" not in bare.headers
        resp = await wire.post(wire.call_request("add", {"a": 1, "b": 2}), bare)
        assert resp.status_code == 200
        (msg,) = wire.messages(resp, version)
        assert msg["result"]["structuredContent"] == {"result": 3}
