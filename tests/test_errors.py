"""What the core refuses reaches Python as one exception class per kind, all exported from `ferromcp.errors`."""

from __future__ import annotations

from typing import Any

import ferromcp
import pytest
from ferromcp import Server, errors


def test_an_invalid_input_schema_is_a_definition_error_at_registration() -> None:
    server = Server("defs")

    def lookup(**kwargs: Any) -> str:
        return "x"

    with pytest.raises(errors.DefinitionError, match=r'tool "lookup": invalid JSON Schema') as raised:
        server.add_tool(lookup, input_schema={"type": "object", "minProperties": "many"})
    assert isinstance(raised.value, ValueError)  # `except ValueError` keeps working
    assert "lookup" not in [t["name"] for t in server.list_tools()]


def test_an_invalid_resource_template_is_a_definition_error() -> None:
    server = Server("defs")
    with pytest.raises(errors.DefinitionError, match=r'unclosed expression in "notes://\{unclosed"'):
        server.add_resource(lambda: "x", "notes://{unclosed")


def test_the_classes_and_their_bases() -> None:
    assert issubclass(errors.DefinitionError, ValueError)
    assert issubclass(errors.ResultError, ValueError)
    assert issubclass(errors.CallFinishedError, RuntimeError)
    assert issubclass(errors.LimitError, RuntimeError)
    assert ferromcp.DefinitionError is errors.DefinitionError
    assert ferromcp.ResultError is errors.ResultError
    assert errors.ToolError is ferromcp.ToolError and errors.McpError is ferromcp.McpError
    assert set(errors.__all__) <= set(dir(errors))
