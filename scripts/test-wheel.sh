#!/usr/bin/env bash
# Installs a built ferromcp wheel into a brand-new virtualenv whose PATH has no cargo or rustc, then serves
# examples/quickstart.py from that virtualenv to the official MCP client (examples/talk.py) over stdio.
#   scripts/test-wheel.sh dist/ferromcp-*.whl        (PYTHON=python3.X to pick the interpreter)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 WHEEL (exactly one)" >&2; exit 2; }
wheel="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
root="$(cd "$(dirname "$0")/.." && pwd)"
python="$(command -v "${PYTHON:-python3}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Rust must not be reachable: shims named cargo and rustc fail loudly should anything try to compile.
mkdir "$work/no-rust"
for tool in cargo rustc rustup maturin; do
    printf '#!/bin/sh\necho "test-wheel: %s was called, but the wheel must install without Rust" >&2\nexit 97\n' \
        "$tool" > "$work/no-rust/$tool"
    chmod +x "$work/no-rust/$tool"
done
export PATH="$work/venv/bin:$work/no-rust:/usr/local/bin:/usr/bin:/bin"
unset CARGO_HOME RUSTUP_HOME RUSTC CARGO VIRTUAL_ENV
for tool in cargo rustc; do
    [ "$(command -v "$tool")" = "$work/no-rust/$tool" ] || { echo "test-wheel: a real $tool is on PATH" >&2; exit 1; }
done

echo "test-wheel: $(basename "$wheel") into a fresh venv ($("$python" --version))"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary ferromcp \
    "$wheel" "mcp==2.3.*"

# Run from a folder holding only the two example files, so nothing of the checkout can be imported.
mkdir "$work/app"
cp "$root/examples/quickstart.py" "$root/examples/talk.py" "$work/app/"
cd "$work/app"
installed="$("$work/venv/bin/python" -c 'import ferromcp, ferromcp._core as c; print(ferromcp.__version__, c.__file__)')"
case "$installed" in
    *"$work/venv/"*) echo "test-wheel: imported ferromcp $installed" ;;
    *) echo "test-wheel: ferromcp was not imported from the new venv: $installed" >&2; exit 1 ;;
esac
"$work/venv/bin/ferromcp" --help > /dev/null

# `timeout` is not on every platform the release workflow runs this on (macOS lacks it).
limit=(); if command -v timeout > /dev/null; then limit=(timeout 120); fi
out="$(${limit[@]+"${limit[@]}"} "$work/venv/bin/python" talk.py quickstart.py 2>&1)" || { echo "$out" >&2; exit 1; }
echo "$out" | sed 's/^/  | /'
failed=0
for expected in "connected to quickstart" "tools: " "add({\"a\": 2, \"b\": 40})" "structured: {\"result\": 42}" "liftoff"; do
    if ! grep -qF -- "$expected" <<< "$out"; then
        echo "test-wheel: missing from the client's output: $expected" >&2
        failed=$((failed + 1))
    fi
done
if [ "$failed" -ne 0 ]; then
    echo "test-wheel: 0 passed, 1 failed"
    exit 1
fi
echo "test-wheel: the wheel installed without Rust and served the official client"
