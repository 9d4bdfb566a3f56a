"""Test harness shared by the test modules: no tests here.

- `paths`: where the repository, the tests and the test servers are.
- `schema`: validation of server messages against the official MCP JSON schemas (`tests/spec/`).
- `stdio`: servers over stdio, through the official client (recorded by `tests/support/tee_proxy.py`) or with raw lines.
- `procs`: server subprocesses serving Streamable HTTP on a free port, and what /proc says about a process.
- `sse`: the SSE wire format, parsed strictly.
- `wire`: a raw Streamable HTTP client whose every received message is schema-checked.
- `inprocess`: the test server's tools served in-process with chosen HTTP options, and a `Wire` to them.
- `raw`: raw HTTP/1.1 over sockets, for requests httpx will not send.
"""
