"""JSON-RPC batches: answered on 2025-03-26 sessions only (batching was removed in 2025-06-18)."""

from __future__ import annotations

import pytest

from tests.support.wire import HTTP_VERSIONS, Wire, assert_accepted, assert_rpc_error

BATCH_VERSIONS_REFUSED = [v for v in HTTP_VERSIONS if v != "2025-03-26"]


@pytest.mark.parametrize("version", [*BATCH_VERSIONS_REFUSED, None])
async def test_batch_outside_2025_03_26_session_is_400(wire: Wire, version: str | None) -> None:
    """Batches exist only in 2025-03-26 (removed in 2025-06-18): elsewhere, 400 with -32600."""
    session = await wire.initialize(version) if version else None
    batch = [wire.request("ping"), wire.call_request("add", {"a": 1, "b": 2})]
    if version is None:
        batch = [wire.init_request()]
    assert_rpc_error(wire, await wire.post(batch, session), 400)
    if session:
        assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()


async def test_batch_on_2025_03_26_session(wire: Wire) -> None:
    session = await wire.initialize("2025-03-26")
    ping, call = wire.request("ping"), wire.call_request("add", {"a": 20, "b": 22})
    batch = [ping, call, {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}]
    resp = await wire.post(batch, session)
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    answers = resp.json()
    wire.note(session.version, [answers])
    assert isinstance(answers, list) and len(answers) == 2, answers  # nothing for the notification
    by_id = {a["id"]: a for a in answers}
    assert by_id[ping["id"]]["result"] == {}
    assert by_id[call["id"]]["result"]["structuredContent"] == {"result": 42}
    # Only notifications and responses: nothing to answer.
    only_notes = [
        {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
        {"jsonrpc": "2.0", "id": "from-server-1", "result": {}},
    ]
    assert_accepted(await wire.post(only_notes, session))
    await wire.assert_serving()
