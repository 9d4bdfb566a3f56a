"""The MCP-Protocol-Version header: the session's version, another one, an unsupported one, none at all."""

from __future__ import annotations

import pytest

from tests.support.wire import HTTP_VERSIONS, Session, Wire, assert_rpc_error


@pytest.mark.parametrize("negotiated", HTTP_VERSIONS)
async def test_protocol_version_header_naming_the_negotiated_version_or_2025_03_26_is_accepted(
    wire: Wire, negotiated: str
) -> None:
    # 2025-03-26 is what a server assumes without the header, so naming it says no more than leaving it out:
    # the session's own version applies. (Conformance 0.1.16 sends it on sessions negotiated at 2025-11-25.)
    session = await wire.initialize(negotiated)
    for header_version in (negotiated, "2025-03-26"):
        headers = {"MCP-Protocol-Version": header_version}
        resp = await wire.post(wire.request("ping"), session, headers=headers)
        assert resp.status_code == 200, resp.text
        (msg,) = wire.messages(resp, session.version)
        assert msg["result"] == {}
    _, result, _ = await wire.call(session, "add", {"a": 1, "b": 2})
    assert result["structuredContent"] == {"result": 3}


@pytest.mark.parametrize(
    ("negotiated", "header_version"),
    [
        ("2025-11-25", "2025-06-18"),
        ("2025-11-25", "2024-11-05"),
        ("2025-06-18", "2025-11-25"),
        ("2025-03-26", "2025-11-25"),
        ("2025-03-26", "2025-06-18"),
    ],
)
async def test_protocol_version_header_differing_from_the_session_is_400(
    wire: Wire, negotiated: str, header_version: str
) -> None:
    session = await wire.initialize(negotiated)
    other = {"MCP-Protocol-Version": header_version}
    for resp in (
        await wire.post(wire.call_request("add", {"a": 1, "b": 2}), session, headers=other),
        await wire.get(session, headers=other),
        await wire.delete(session, headers=other),
    ):
        body = assert_rpc_error(wire, resp, 400)
        message = body["error"]["message"]
        assert header_version in message and negotiated in message, message
    # Nothing was done: the session is alive and serves requests with the right header.
    assert (await wire.ping(session)).status_code == 200
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
