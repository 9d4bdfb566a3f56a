"""Streamable HTTP at the wire level, one module per behaviour: one test per transport rule (status code, headers,
JSON-RPC error body), each followed by a good request to show the server is still serving.

Spec: docs/specification/2025-11-25/basic/transports.mdx (digest: CHECKLIST.md §3.2); the server's own statement of
the rules is rust/core/src/http/service.rs. Every JSON-RPC message a test receives is validated against the
official schema of its session's negotiated version when the test ends (`Wire.check`, tests/support/wire.py).

Tests that need special options run the same tools (tests/servers/everything.py) in-process through
`Server.http_server(...)` (`served`); the rest use the `http_server` subprocess fixture, through the `wire` fixture.
"""
