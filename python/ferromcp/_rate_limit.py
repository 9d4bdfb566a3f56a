"""`RateLimit`: how many calls a client may make, as token buckets enforced in the Rust core."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["RATE_LIMITED", "RateLimit"]

RATE_LIMITED = -32029
"""The JSON-RPC error code of a call refused by a rate limit (`data.retryAfterMs` says when to retry)."""


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimit:
    """`Server(rate_limit=RateLimit(per_client="100/s", per_tool={"search": "10/s"}))`.

    A rate is `"N/s"`, `"N/m"` or `"N/h"`: a bucket of N tokens (so N calls may come at once) refilled at N per
    period. Calls (`tools/call`, `resources/read`, `prompts/get`) count. `per_client` limits each client's calls;
    `per_tool` limits each client's calls of the tools named. The client is the authenticated principal when
    there is one, else the legacy session, else the client's IP address (stateless HTTP), else the stdio
    connection. A refused call gets the JSON-RPC error `RATE_LIMITED` (-32029) with `data.retryAfterMs` (over
    HTTP: status 429 and `Retry-After`), and uses no token.
    """

    per_client: str | None = None
    per_tool: Mapping[str, str] | None = None
