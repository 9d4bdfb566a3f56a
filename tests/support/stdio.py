"""Servers over stdio: through the official client, every line recorded by tests/support/tee_proxy.py (`connect`), or
spoken to with raw lines (`RawServer`)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.paths import EVERYTHING, ROOT, TESTS
from tests.support.schema import check_transcript


def read_transcript(path: Path) -> list[tuple[str, str]]:
    if not path.exists():
        return []
    return [(e["dir"], e["line"]) for e in map(json.loads, path.read_text().splitlines())]


class Transcript:
    """The lines exchanged with a server under test, recorded by tests/support/tee_proxy.py."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[tuple[str, str]]:
        return read_transcript(self.path)

    def server_messages(self, version: str | None = None) -> list[Any]:
        """Every message the server wrote, each validated against the official schema."""
        return check_transcript(self.lines(), version)


@contextlib.asynccontextmanager
async def connect(
    tmp_path: Path, script: Path = EVERYTHING, **session_kwargs: Any
) -> AsyncIterator[tuple[ClientSession, Transcript]]:
    """The official client (stdio_client + ClientSession), initialized, talking to `script` through the tee."""
    log = tmp_path / f"transcript-{os.urandom(4).hex()}.jsonl"
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(TESTS / "support" / "tee_proxy.py"), str(log), "--", sys.executable, str(script)],
        cwd=str(ROOT),
    )
    transcript = Transcript(log)
    async with stdio_client(params) as (read, write), ClientSession(read, write, **session_kwargs) as session:
        await session.initialize()
        yield session, transcript
    transcript.server_messages()  # every message the server wrote is schema-valid


class RawServer:
    """A server subprocess spoken to with raw lines, for inputs no well-behaved client would send."""

    def __init__(self, script: Path = EVERYTHING, *, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(ROOT),
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.sent: list[tuple[str, str]] = []
        self.received: list[tuple[str, str]] = []
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        self.sent.append(("in", data.decode("utf-8", "replace")))

    def send(self, msg: Any) -> None:
        self.send_raw(json.dumps(msg).encode() + b"\n")

    def recv(self, timeout: float = 10.0) -> Any:
        line = self.lines.get(timeout=timeout)
        text = line.decode()
        self.received.append(("out", text))
        return json.loads(text)

    def request(self, id: Any, method: str, params: dict[str, Any] | None = None) -> Any:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return self.recv()

    def initialize(self, version: str = "2025-11-25") -> Any:
        result = self.request(
            0,
            "initialize",
            {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
        )
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def assert_quiet(self, timeout: float = 0.2) -> None:
        with contextlib.suppress(queue.Empty):
            extra = self.lines.get(timeout=timeout)
            raise AssertionError(f"unexpected message: {extra!r}")

    def transcript(self) -> list[tuple[str, str]]:
        """What was sent, then what was received (enough to validate the server's messages)."""
        return self.sent + self.received

    def close(self, timeout: float = 10.0) -> int:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            assert self.proc.stdout is not None and self.proc.stderr is not None
            self.stderr = self.proc.stderr.read()
            self.proc.stdout.close()
            self.proc.stderr.close()
        return code
