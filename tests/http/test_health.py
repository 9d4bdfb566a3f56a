"""Health endpoints over a real socket: `GET /healthz` (alive) and `GET /readyz` (ready for traffic) answer any
Host (orchestrators probe the pod's address), while the MCP endpoint keeps its Host rule."""

from __future__ import annotations

import httpx2

from tests.support.procs import HttpServerProcess


def test_probes_answer_for_any_host(http_server: HttpServerProcess) -> None:
    base = http_server.url.removesuffix("/mcp")
    for path, status in (("/healthz", "ok"), ("/readyz", "ready")):
        for host in (None, "10.1.2.3:8000"):
            headers = {"Host": host} if host else {}
            resp = httpx2.get(base + path, headers=headers, timeout=5)
            assert (resp.status_code, resp.json()) == (200, {"status": status}), (path, host)
            assert resp.headers["cache-control"] == "no-store"
    assert httpx2.post(base + "/healthz", timeout=5).status_code == 405
    foreign = httpx2.get(http_server.url, headers={"Host": "10.1.2.3:8000", "Accept": "text/event-stream"}, timeout=5)
    assert foreign.status_code == 403
