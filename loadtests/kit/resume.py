"""Workload (f) of the HTTP benchmark: an SSE stream that the server closes midway (ferro_http.py's tool
`resumable` calls ctx.close_stream()), resumed by the client with GET + Last-Event-ID on a fresh connection. With
several workers the kernel may hand that connection to another worker than the POST's, which then replays the
missed events from the shared store (Redis); each answer's Ferromcp-Worker header says which worker it was.

One resumption after another:

  POST tools/call resumable (progressToken)  ->  priming event, progress 1, then the server ends the stream
  wait settings.resume_delay_s (a client would wait the priming event's `retry`, 1 s; shorter keeps the run short)
  GET Last-Event-ID on a new connection      ->  progress 2 and the result, then the stream ends

Timed from sending the GET (connection already open) to the first replayed event and to the result. With the
default delay (20 ms) against the tool's 5 ms pause, the tool has finished by then, so both come from the store:
the numbers are the replay's, not the handler's.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

from .connections import SyncConnection
from .http_wire import HOST, ProtocolError, Requests, Response, check_accepted, check_session_opened
from .servers import ServerProcess
from .stats import percentile
from .workloads import Failures, Settings

READ_TIMEOUT_S = 10.0
TOOL_PAUSE_MS = 5


class SseStream:
    """One request on its own connection whose answer is an SSE stream (chunked), read event by event."""

    def __init__(self, port: int) -> None:
        self._sock = socket.create_connection((HOST, port), timeout=READ_TIMEOUT_S)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()

    def close(self) -> None:
        self._sock.close()

    def send(self, raw: bytes) -> None:
        self._sock.sendall(raw)

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-stream")
        self._buf += chunk

    def head(self) -> Response:
        """Status line and headers; raises unless it is a 200 chunked event stream."""
        while (end := self._buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(self._buf[:end])
        del self._buf[: end + 4]
        response = Response(int(head[9:12]), head, b"")
        content_type = (response.header(b"content-type") or b"").lower()
        if response.status != 200 or not content_type.startswith(b"text/event-stream"):
            raise ProtocolError(f"HTTP {response.status} {content_type.decode()}: {bytes(self._buf[:200])!r}")
        if b"chunked" not in (response.header(b"transfer-encoding") or b"").lower():
            raise ProtocolError(f"an event stream without chunked encoding: {head[:300]!r}")
        return response

    def events(self) -> Iterator[tuple[bytes, bytes, float]]:
        """(id, data, perf_counter when it arrived) of each event, until the server ends the stream."""
        pending = bytearray()
        while True:
            while (eol := self._buf.find(b"\r\n")) < 0:
                self._fill()
            size = int(bytes(self._buf[:eol]).split(b";", 1)[0], 16)
            if size == 0:
                return  # the last chunk: the server ended the stream
            while len(self._buf) < eol + 2 + size + 2:
                self._fill()
            pending += self._buf[eol + 2 : eol + 2 + size]
            del self._buf[: eol + 2 + size + 2]
            arrived = time.perf_counter()
            while (sep := pending.find(b"\n\n")) >= 0:
                event_id, data = _event_fields(bytes(pending[:sep]))
                del pending[: sep + 2]
                yield event_id, data, arrived


def _event_fields(event: bytes) -> tuple[bytes, bytes]:
    event_id, data = b"", []
    for line in event.split(b"\n"):
        if line.startswith(b"id:"):
            event_id = line[3:].strip()
        elif line.startswith(b"data:"):
            data.append(line[5:].removeprefix(b" "))
    return event_id, b"\n".join(data)


def _one(port: int, requests: Requests, sid: bytes, k: int, delay_s: float) -> tuple[bool, float, float]:
    """One resumption: (crossed to another worker, ms to the first replayed event, ms to the result)."""
    post = SseStream(port)
    try:
        post.send(requests.call(sid, k, "resumable", {"pause_ms": TOOL_PAUSE_MS}, progressToken=f"r{k}"))
        started_on = post.head().header(b"ferromcp-worker")
        before = list(post.events())
    finally:
        post.close()
    if not before or any(b'"result"' in data for _, data, _ in before):
        raise ProtocolError(f"the POST's stream was not cut short before the result: {before!r:.300}")
    last_id = before[-1][0]
    time.sleep(delay_s)
    get = SseStream(port)  # connected before the clock starts: the GET's time, not the handshake's
    try:
        sent = time.perf_counter()
        get.send(requests.resume(sid, last_id))
        resumed_on = get.head().header(b"ferromcp-worker")
        after = list(get.events())
    finally:
        get.close()
    data = [d for _, d, _ in after if d]
    if len(data) != 2 or b'"progress":2' not in data[0] or b'"id":%d,"result"' % k not in data[1]:
        raise ProtocolError(f"resumed stream: expected progress 2 and result {k}, got {data!r:.300}")
    first = next(t for _, d, t in after if d)
    end = after[-1][2]
    crossed = started_on is not None and resumed_on is not None and started_on != resumed_on
    return crossed, (first - sent) * 1000, (end - sent) * 1000


def resume_elsewhere(server: ServerProcess, settings: Settings) -> dict[str, Any]:
    requests = Requests(server.port)
    conn = SyncConnection(server.port)
    try:
        sid = check_session_opened(conn.request(requests.initialize))
        check_accepted(conn.request(requests.initialized(sid)))
    finally:
        conn.close()
    samples: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    failures = Failures(limit=20)
    meter = server.cpu_meter()
    with meter.measure():
        give_up = time.perf_counter() + settings.resume_budget_s
        attempts = 0
        for k in range(settings.resume_count):
            if time.perf_counter() > give_up or failures.too_many:
                break
            attempts += 1
            try:
                crossed, first_ms, end_ms = _one(server.port, requests, sid, 1000 + k, settings.resume_delay_s)
            except (ProtocolError, ValueError, OSError) as exc:
                failures.add(exc)
                continue
            samples[crossed][0].append(first_ms)
            samples[crossed][1].append(end_ms)
    out: dict[str, Any] = {
        "attempts": attempts,
        **failures.as_dict(),
        "delay_ms": settings.resume_delay_s * 1000,
        "tool_pause_ms": TOOL_PAUSE_MS,
        **meter.as_dict(),
    }
    for crossed, name in ((True, "crossed"), (False, "same")):
        first, end = (sorted(values) for values in samples[crossed])
        out[name] = len(first)
        for what, values in (("first", first), ("end", end)):
            out[f"{name}_{what}_p50_ms"] = percentile(values, 50)
            out[f"{name}_{what}_p99_ms"] = percentile(values, 99)
    return out
