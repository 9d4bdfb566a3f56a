"""Test harness shared by the test modules: no tests here.

- `schema`: validation of server messages against the official MCP JSON schemas (`tests/spec/`).
"""
