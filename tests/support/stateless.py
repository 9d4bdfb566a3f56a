"""Raw stateless (2026-07-28) requests over HTTP: a body with the `_meta` the era requires, and the routing
headers that must match it."""

from __future__ import annotations

from typing import Any

import httpx2

MODERN = "2026-07-28"
META_VERSION = "io.modelcontextprotocol/protocolVersion"
CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META = {META_VERSION: MODERN, CAPABILITIES: {}}


def post(url: str, body: dict[str, Any], **headers: str) -> httpx2.Response:
    """POSTs `body` with the era's headers (`Mcp-Method` from the body; pass `Mcp-Name` where it is needed)."""
    base = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": MODERN,
        "Mcp-Method": body.get("method", ""),
    }
    return httpx2.post(url, json=body, headers={**base, **headers}, timeout=10)


def call(tool: str, arguments: dict[str, Any], request_id: int = 1, **params: Any) -> dict[str, Any]:
    """A `tools/call` request; `params` adds fields (`inputResponses`, `requestState`, `_meta`)."""
    body_params = {"name": tool, "arguments": arguments, "_meta": META, **params}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": body_params}
