"""`Header`: the marker that mirrors a tool parameter in an HTTP header (`x-mcp-header`)."""

from __future__ import annotations

import dataclasses

__all__ = ["Header"]


@dataclasses.dataclass(frozen=True, slots=True)
class Header:
    """Mirrors a parameter in an HTTP header on 2026-07-28 requests: `region: Annotated[str, Header("Region")]`.

    The tool's input schema marks the property with `x-mcp-header`, so clients send its value as
    `Mcp-Param-Region` and gateways can route on it without reading the body; the server checks that the header
    matches the argument (else 400, -32020). Only `str`, `int` and `bool` parameters can be mirrored; anything
    else is a `DefinitionError` at registration.
    """

    name: str
