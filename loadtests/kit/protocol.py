"""The MCP messages every benchmark client opens a session with, and the protocol version it speaks."""

from __future__ import annotations

import json
from typing import Any

PROTOCOL_VERSION = "2025-11-25"
INITIALIZED: dict[str, Any] = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def initialize_request(request_id: int, client_name: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": "1"},
        },
    }


def compact_json(message: dict[str, Any]) -> bytes:
    """`message` as JSON without spaces, the way the raw clients send it."""
    return json.dumps(message, separators=(",", ":")).encode()
