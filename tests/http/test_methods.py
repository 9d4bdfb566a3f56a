"""DELETE ends a session (or is refused when disabled); other methods are 405 with Allow."""

from __future__ import annotations

import json

import httpx2
import pytest

from tests.support.inprocess import served
from tests.support.wire import POST_HEADERS, Wire, assert_rpc_error


def allow_set(resp: httpx2.Response) -> set[str]:
    return {m.strip() for m in resp.headers["allow"].split(",")}


async def test_delete_ends_session(wire: Wire) -> None:
    session = await wire.initialize()
    other = await wire.initialize()
    async with wire.open_get(session) as get:
        await get.until(lambda ev: len(ev) >= 1)
        resp = await wire.delete(session)
        assert resp.status_code == 200 and resp.content == b"", resp.text
        # The session's stream ends with it, cleanly.
        events = await get.to_end(timeout=5)
        assert all(e.is_priming for e in events), events
    assert_rpc_error(wire, await wire.post(wire.request("ping"), session), 404)
    assert_rpc_error(wire, await wire.get(session), 404)
    assert_rpc_error(wire, await wire.delete(session), 404)
    # DELETE without a session header is a bad request, like any request that needs one.
    assert_rpc_error(wire, await wire.delete(None), 400)
    assert (await wire.ping(other)).status_code == 200
    await wire.assert_serving()


async def test_delete_disabled_is_405_with_allow() -> None:
    async with served(allow_delete=False) as wire:
        session = await wire.initialize()
        resp = await wire.delete(session)
        assert_rpc_error(wire, resp, 405)
        assert allow_set(resp) == {"GET", "POST"}
        # The session was not ended.
        assert (await wire.ping(session)).status_code == 200
        await wire.assert_serving()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_other_methods_are_405_with_allow(wire: Wire, method: str) -> None:
    session = await wire.initialize()
    resp = await wire.client.request(
        method, wire.url, headers={**POST_HEADERS, **session.headers}, content=json.dumps(wire.request("ping"))
    )
    assert_rpc_error(wire, resp, 405)
    assert allow_set(resp) == {"GET", "POST", "DELETE"}
    assert (await wire.ping(session)).status_code == 200
    await wire.assert_serving()
