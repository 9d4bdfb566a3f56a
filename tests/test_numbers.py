"""Numbers in arguments, over stdio with raw messages: integers in the 64-bit range (-2^63 to 2^64-1) reach the
handler exactly as Python ints; larger ones are refused with -32602 naming the number (serde would otherwise
turn them into inexact floats); a `\\u` escape that is a lone UTF-16 surrogate gets an error that says so."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stdio import RawServer


@pytest.fixture
def server() -> Iterator[RawServer]:
    s = RawServer()
    s.initialize()
    try:
        yield s
    finally:
        s.close()


def add(server: RawServer, request_id: int, raw_args: str) -> dict[str, object]:
    line = (
        f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call","params":{{"name":"add","arguments":{raw_args}}}}}'
    )
    server.send_raw(line.encode() + b"\n")
    return server.recv()


def test_64_bit_integers_are_exact(server: RawServer) -> None:
    reply = add(server, 1, '{"a":18446744073709551614,"b":1}')
    assert reply["result"]["structuredContent"] == {"result": 18446744073709551615}
    reply = add(server, 2, '{"a":-9223372036854775808,"b":0}')
    assert reply["result"]["structuredContent"] == {"result": -9223372036854775808}


@pytest.mark.parametrize("big", ["18446744073709551616", "-9223372036854775809", "1" * 30])
def test_integers_beyond_64_bits_are_refused_clearly(server: RawServer, big: str) -> None:
    reply = add(server, 3, f'{{"a":{big},"b":1}}')
    assert reply["error"]["code"] == -32602
    assert big in reply["error"]["message"] and "64-bit range" in reply["error"]["message"]
    # The server goes on serving.
    assert add(server, 4, '{"a":2,"b":3}')["result"]["structuredContent"] == {"result": 5}


def test_a_lone_surrogate_is_named(server: RawServer) -> None:
    line = '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\\ud800"}}}'
    server.send_raw(line.encode() + b"\n")
    reply = server.recv()
    assert reply["error"]["code"] == -32602
    assert "lone UTF-16 surrogate" in reply["error"]["message"], reply
