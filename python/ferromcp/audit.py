"""The audit trail: `Server(audit=sink)` gets one record per `tools/call`, `resources/read` and `prompts/get`.

A record (`AuditRecord`) says when the call arrived (`time`, milliseconds since the epoch), who made it
(`principal`, the authenticated subject, None without authentication), `method`, `name` (the tool or prompt,
or the resource URI), `outcome` (`"success"`, `"tool_error"` for an `isError` result, `"error"` for a JSON-RPC
error, with its `errorCode` (None otherwise), or `"cancelled"`), `durationMs`, and `argumentsHmac`: the
HMAC-SHA256 (hex) of the arguments in canonical JSON (keys sorted, compact), keyed with
`Server(audit_key=...)` (default: a random key per process). The arguments themselves are never recorded.

The sink is called on a background thread, one record at a time, in the order the calls ended; records are made
by the Rust core whichever part answered (a protocol error is recorded too). Without `audit=` nothing is
recorded and nothing is paid.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal, TypedDict

__all__ = ["AuditRecord", "JsonLinesAudit"]


class AuditRecord(TypedDict):
    time: int
    principal: str | None
    method: str
    name: str | None
    outcome: Literal["success", "tool_error", "error", "cancelled"]
    errorCode: int | None
    durationMs: float
    argumentsHmac: str | None


class JsonLinesAudit:
    """Appends each record to `path` as one JSON line (the file is created if needed, never truncated), flushed
    as it is written. Pass it as `Server(audit=JsonLinesAudit("audit.jsonl"))`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file = self.path.open("ab")
        self._lock = threading.Lock()

    def write_json(self, line: str) -> None:
        """Writes one record given as JSON text (the core hands records over in this form)."""
        data = line.encode() + b"\n"
        with self._lock:
            self._file.write(data)
            self._file.flush()

    def __call__(self, record: AuditRecord) -> None:
        import orjson

        self.write_json(orjson.dumps(record).decode())

    def close(self) -> None:
        with self._lock:
            self._file.close()
