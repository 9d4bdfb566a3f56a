"""`Server(audit=...)`: one record per call (success, tool error, protocol error — refusals of the core included),
with a keyed hash of the arguments and never the arguments themselves; `JsonLinesAudit` writes valid JSON lines.
Through the official client, over Streamable HTTP (stateless and legacy) and stdio."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from ferromcp import ProtocolError, Server, ToolError
from ferromcp.audit import AuditRecord, JsonLinesAudit
from ferromcp.errors import DefinitionError
from mcp.shared.exceptions import MCPError

from tests.support.clients import http_client, stdio_client

SECRET = "4111-1111-1111-1111"
KEY = b"0123456789abcdef0123456789abcdef"


def make_server(audit: Any, key: bytes | None = KEY) -> Server:
    server = Server("audited", audit=audit, audit_key=key)

    @server.tool
    def pay(card: str, amount: int) -> str:
        return "paid"

    @server.tool
    def declined(card: str) -> str:
        raise ToolError("declined")

    @server.tool
    def refused(card: str) -> str:
        raise ProtocolError(-32602, "no such account")

    @server.resource("ledger://{account}")
    def ledger(account: str) -> str:
        return "balance 0"

    @server.prompt
    def receipt(card: str) -> str:
        return "thanks"

    return server


class Kept:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []
        self.threads: set[int] = set()

    def __call__(self, record: AuditRecord) -> None:
        self.records.append(record)
        self.threads.add(threading.get_ident())


async def exercise(url: str, mode: str) -> None:
    async with http_client(url, mode=mode) as (client, _):
        assert not (await client.call_tool("pay", {"card": SECRET, "amount": 5})).is_error
        assert (await client.call_tool("pay", {"amount": 5, "card": SECRET})).content  # same arguments, reordered
        assert (await client.call_tool("declined", {"card": SECRET})).is_error
        with pytest.raises(MCPError):
            await client.call_tool("refused", {"card": SECRET})
        with pytest.raises(MCPError):  # answered by the core: the handler never runs
            await client.call_tool("no_such_tool", {"card": SECRET})
        await client.read_resource("ledger://42")
        await client.get_prompt("receipt", {"card": SECRET})
        await client.list_tools()  # not audited


@pytest.mark.parametrize("mode", ["2026-07-28", "legacy"])
async def test_one_record_per_call_with_its_outcome(mode: str) -> None:
    kept = Kept()
    server = make_server(kept)
    async with server.http_server(port=0) as url:
        await exercise(url, mode)
    records = kept.records  # the drain at the end of the block delivered every record
    summary = [(r["method"], r["name"], r["outcome"], r["errorCode"]) for r in records]
    assert summary == [
        ("tools/call", "pay", "success", None),
        ("tools/call", "pay", "success", None),
        ("tools/call", "declined", "tool_error", None),
        ("tools/call", "refused", "error", -32602),
        ("tools/call", "no_such_tool", "error", -32602),
        ("resources/read", "ledger://42", "success", None),
        ("prompts/get", "receipt", "success", None),
    ]
    assert records[0]["argumentsHmac"] == records[1]["argumentsHmac"]  # canonical: key order does not matter
    assert records[0]["argumentsHmac"] != records[2]["argumentsHmac"]
    assert records[5]["argumentsHmac"] is None
    for record in records:
        assert record["principal"] is None  # no authentication yet
        assert record["durationMs"] >= 0 and record["time"] > 1_700_000_000_000
        assert SECRET not in json.dumps(record)
    assert len(kept.threads) == 1 and threading.main_thread().ident not in kept.threads  # one forwarder thread


async def test_the_hmac_is_keyed() -> None:
    async def hmac_of(key: bytes) -> str | None:
        kept = Kept()
        async with make_server(kept, key).http_server(port=0) as url, http_client(url) as (client, _):
            await client.call_tool("pay", {"card": SECRET, "amount": 5})
        (record,) = kept.records
        return record["argumentsHmac"]

    first, again, other = await hmac_of(KEY), await hmac_of(KEY), await hmac_of(b"another key, 16+ bytes")
    assert first == again and first != other
    assert first is not None and len(first) == 64


async def test_json_lines_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonLinesAudit(path)
    try:
        async with make_server(sink).http_server(port=0) as url:
            await exercise(url, "2026-07-28")
    finally:
        sink.close()
    text = path.read_text()
    assert SECRET not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [(r["name"], r["outcome"]) for r in lines][:4] == [
        ("pay", "success"),
        ("pay", "success"),
        ("declined", "tool_error"),
        ("refused", "error"),
    ]
    assert len(lines) == 7 and text.endswith("\n")


async def test_over_stdio(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    script = tmp_path / "server.py"
    script.write_text(
        "from ferromcp import Server\n"
        "from ferromcp.audit import JsonLinesAudit\n"
        f"server = Server('audited', audit=JsonLinesAudit({str(path)!r}))\n"
        "@server.tool\n"
        "def pay(card: str) -> str:\n"
        "    return 'paid'\n"
        "server.run()\n"
    )
    async with stdio_client(tmp_path, script=script) as (client, _):
        await client.call_tool("pay", {"card": SECRET})
    (record,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert (record["method"], record["name"], record["outcome"]) == ("tools/call", "pay", "success")
    assert SECRET not in path.read_text()


def test_a_short_key_or_a_sink_that_is_not_callable_is_refused() -> None:
    with pytest.raises(DefinitionError, match="at least 16 bytes"):
        Server("x", audit=Kept(), audit_key=b"short")
    with pytest.raises(TypeError, match="must be callable"):
        Server("x", audit="audit.jsonl")  # type: ignore[arg-type]
