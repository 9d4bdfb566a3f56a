"""The core's log events in Python's `logging`, under the logger `ferromcp` (children like `ferromcp.http.sessions`).

The Rust core logs through `tracing`; its events are forwarded to `logging` by one background thread (never to
stdout). Events below the effective level of the `ferromcp` logger are dropped in Rust before any formatting: the
level is read when a server starts serving, so configure logging before that (`logging.basicConfig(level=...)`
or `logging.getLogger("ferromcp").setLevel(...)`).
"""

from __future__ import annotations

import atexit
import logging

from ._core import flush_logs, set_log_level

logger = logging.getLogger("ferromcp")


def sync_core_level() -> None:
    """Tells the core the level below which its events are not forwarded."""
    set_log_level(logger.getEffectiveLevel())


# Deliver what the core queued before the interpreter shuts down.
atexit.register(flush_logs)
