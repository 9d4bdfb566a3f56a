"""The SSE wire format (https://html.spec.whatwg.org/#event-stream-interpretation) as this server writes it,
parsed strictly: whole bodies (`parse_sse`) or open streams read as they arrive (`SseResponse`)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx2

# The server's event ids: <stream>.<seq>, stream 0 being the standalone GET stream.
EVENT_ID = re.compile(r"^(\d+)\.(\d+)$")


@dataclass
class SseEvent:
    id: str | None
    data: str
    retry: int | None

    @property
    def is_priming(self) -> bool:
        return self.id is not None and self.data == ""

    def stream_seq(self) -> tuple[int, int]:
        assert self.id is not None
        m = EVENT_ID.match(self.id)
        assert m, f"event id not of the form <stream>.<seq>: {self.id!r}"
        return int(m[1]), int(m[2])


class SseParser:
    """Incremental parser of the SSE wire format (https://html.spec.whatwg.org/#event-stream-interpretation),
    strict about what this server sends: one `data:` line per event, no duplicated fields."""

    def __init__(self) -> None:
        self.buffer = ""

    def feed(self, text: str) -> list[SseEvent]:
        self.buffer += text.replace("\r\n", "\n")
        *blocks, self.buffer = self.buffer.split("\n\n")
        events: list[SseEvent] = []
        for block in blocks:
            fields: dict[str, str] = {}
            for line in block.split("\n"):
                if line.startswith(":"):
                    continue  # a comment (the keep-alive)
                name, _, value = line.partition(":")
                assert name not in fields, f"duplicated SSE field {name!r} in {block!r}"
                fields[name] = value[1:] if value.startswith(" ") else value
            if not fields:
                continue
            assert set(fields) <= {"id", "data", "retry", "event"}, block
            assert fields.get("event", "message") == "message", block
            retry = fields.get("retry")
            events.append(SseEvent(fields.get("id"), fields.get("data", ""), int(retry) if retry else None))
        return events


def parse_sse(body: str) -> list[SseEvent]:
    """A complete SSE body: every event terminated by a blank line."""
    parser = SseParser()
    events = parser.feed(body)
    assert parser.buffer == "", f"SSE body ends mid-event: {parser.buffer!r}"
    return events


class SseResponse:
    """An open SSE response read incrementally. It holds the one body iterator httpx allows: an iterator that
    is dropped gets closed by asyncio's async-generator finalizer, and that would close the connection."""

    def __init__(self, resp: httpx2.Response) -> None:
        self.resp = resp
        self.parser = SseParser()
        self.events: list[SseEvent] = []
        self._chunks: AsyncIterator[str] | None = None

    @property
    def status_code(self) -> int:
        return self.resp.status_code

    @property
    def headers(self) -> httpx2.Headers:
        return self.resp.headers

    def _iter(self) -> AsyncIterator[str]:
        if self._chunks is None:
            self._chunks = self.resp.aiter_text()
        return self._chunks

    async def until(self, done: Callable[[list[SseEvent]], bool], timeout: float = 10.0) -> list[SseEvent]:
        """Reads until `done(events so far)`; the stream stays open."""
        chunks = self._iter()

        async def read() -> None:
            while not done(self.events):
                self.events += self.parser.feed(await anext(chunks))

        await asyncio.wait_for(read(), timeout)
        return self.events

    async def to_end(self, timeout: float = 10.0) -> list[SseEvent]:
        """Reads until the server ends the stream; returns every event of it."""
        chunks = self._iter()

        async def read() -> None:
            async for text in chunks:
                self.events += self.parser.feed(text)

        await asyncio.wait_for(read(), timeout)
        assert self.parser.buffer == "", f"SSE body ends mid-event: {self.parser.buffer!r}"
        return self.events
