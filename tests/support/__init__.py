"""Test harness shared by the test modules: no tests here.

- `paths`: where the repository, the tests and the test servers are.
- `schema`: validation of server messages against the official MCP JSON schemas (`tests/spec/`).
- `stdio`: servers over stdio, through the official client (recorded by `tests/tee_proxy.py`) or with raw lines.
- `procs`: server subprocesses serving Streamable HTTP on a free port.
"""
