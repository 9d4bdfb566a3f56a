"""Content blocks a session's protocol version predates are rewritten for it by the core, schema-valid there."""

from __future__ import annotations

import pytest

from tests.support.schema import check_transcript
from tests.support.stdio import RawServer

LINK_TEXT = {"type": "text", "text": "Resource link: link <test://link> - a link"}


def call(raw: RawServer, version: str, tool: str) -> list[dict[str, object]]:
    assert raw.initialize(version)["result"]["protocolVersion"] == version
    result = raw.request(1, "tools/call", {"name": tool, "arguments": {}})["result"]
    check_transcript(raw.transcript(), version)
    return result["content"]


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25"])
def test_current_versions_get_every_block_as_is(raw: RawServer, version: str) -> None:
    kinds = [b["type"] for b in call(raw, version, "mixed")]
    assert kinds == ["text", "image", "resource", "resource_link", "text"]


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26"])
def test_resource_links_become_text_before_2025_06_18(raw: RawServer, version: str) -> None:
    blocks = call(raw, version, "mixed")
    assert [b["type"] for b in blocks] == ["text", "image", "resource", "text", "text"]
    assert blocks[3] == LINK_TEXT


def test_audio_becomes_an_embedded_blob_before_2025_03_26(raw: RawServer) -> None:
    (block,) = call(raw, "2024-11-05", "audio")
    assert block == {
        "type": "resource",
        "resource": {"uri": "data:audio/wav;base64,", "mimeType": "audio/wav", "blob": "UklGRi4uLi5XQVZF"},
    }


def test_audio_is_kept_from_2025_03_26(raw: RawServer) -> None:
    (block,) = call(raw, "2025-03-26", "audio")
    assert block["type"] == "audio"
