"""`CacheHint`: how long a client may keep a stateless (2026-07-28) result, and who may share it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

__all__ = ["CacheHint", "cache_hint_json", "cache_hints_json"]


@dataclasses.dataclass(frozen=True, slots=True)
class CacheHint:
    """Freshness of one method's results: `ttl_ms` milliseconds (0: stale at once), and whether a cached copy
    may be shared across authorization contexts (`"public"`) or only reused by the one that got it
    (`"private"`, the default). Per method: `Server(cache_hints={"tools/list": CacheHint(ttl_ms=60_000,
    scope="public")})`; per resource or template: `@server.resource(uri, cache_hint=CacheHint(...))`.
    """

    ttl_ms: int = 0
    scope: Literal["public", "private"] = "private"


def cache_hint_json(hint: CacheHint) -> dict[str, object]:
    """The wire spelling the core takes (checked there: unknown scopes are refused)."""
    return {"ttlMs": hint.ttl_ms, "cacheScope": hint.scope}


def cache_hints_json(hints: Mapping[str, CacheHint]) -> dict[str, dict[str, object]]:
    """Hints by method (checked in the core: unknown methods and scopes are refused)."""
    return {method: cache_hint_json(hint) for method, hint in hints.items()}
