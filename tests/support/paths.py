"""Where things are: the repository, its tests, and the server script most tests run."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
# The server exercising the whole API (tests/servers/everything.py), over stdio or `http PORT`.
EVERYTHING = TESTS / "servers" / "everything.py"
