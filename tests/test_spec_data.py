"""The official schemas every emitted message is checked against are in the repository, complete and readable."""

from __future__ import annotations

import json

import pytest

from tests.support.schema import VENDORED, VERSIONS, has_definition, schema_path


@pytest.mark.parametrize("version", VERSIONS)
def test_schema_is_present_and_parses(version: str) -> None:
    path = schema_path(version)
    assert path.is_file(), f"missing official schema {path}: the schema checks would be skipped"
    root = json.loads(path.read_text())
    assert root.get("$schema"), path
    # Every version defines the messages the checks use.
    assert has_definition(version, "JSONRPCRequest")
    assert has_definition(version, "CallToolResult")


def test_vendored_copy_carries_its_licence_and_source() -> None:
    assert (VENDORED / "LICENSE").is_file()
    readme = (VENDORED / "README.md").read_text()
    assert "modelcontextprotocol/modelcontextprotocol" in readme
    for version in VERSIONS:
        assert (VENDORED / "schema" / version / "schema.json").is_file()
    assert any((VENDORED / "schema" / "2026-07-28" / "examples").rglob("*.json"))
