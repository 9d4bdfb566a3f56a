# Targets shared by humans and CI. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PY_SOURCES := python tests benches examples loadtests deploy
# Kubernetes versions whose official schemas (bundled by kubernetes-validate) the manifests in deploy/ must pass.
K8S_VERSIONS := 1.30.0 1.37.0
SHELL := bash
.SHELLFLAGS := -o pipefail -c
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.DEFAULT_GOAL := help
.PHONY: help demo install dev build check test test-rust test-python test-wheel wheel lint format conformance bench bench-smoke bench-micro bench-instructions valgrind wrk redis nginx deploy-check loadtest clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"

install: $(PY) ## install ferromcp (release build from source, about 3 min) into .venv
	@echo "Building ferromcp from source: Rust, release build with LTO, about 3 minutes on 2 cores (log: $(VENV)/install.log)"
	@$(PY) -m pip install --verbose . 2>&1 | tee $(VENV)/install.log \
		| grep --line-buffered -E '^ *(Compiling|Finished) |Successfully installed' \
		|| { tail -40 $(VENV)/install.log; exit 1; }

demo: install ## install ferromcp and talk to the example server with the official MCP client
	$(PY) -m pip install --quiet "mcp==2.3.*"
	$(PY) examples/talk.py examples/quickstart.py

dev: $(PY) ## install the dev tooling and build the extension in place (release)
	$(PY) -m pip install --quiet --group dev
	$(PY) -m maturin develop --release

build: $(PY) ## rebuild the extension in place after a Rust change
	$(PY) -m maturin develop --release --quiet

check: $(PY) redis nginx ## the fast inner loop: a quick (non-LTO) build, then the Rust and Python tests; no lint, conformance, wheel or benchmarks
	$(PY) -m pip install --quiet --group dev
	$(PY) -m maturin develop --profile quick --quiet
	cargo test --workspace --quiet
	$(PY) -m pytest tests -q -p no:cacheprovider

test: dev lint deploy-check bench-smoke conformance test-wheel test-rust test-python ## install the dev tooling and run every check and test

test-rust: redis ## Rust unit tests (no Python needed; the Redis store tests run their own redis-server)
	cargo test --workspace --quiet

test-python: redis nginx ## the Python test suite (interop through the official MCP client, workers sharing a real Redis, the deployment kit through nginx); benchmarks run once, untimed
	$(PY) -m pytest tests benches/test_dispatch_bench.py

wheel: $(PY) ## build the release wheel (abi3 for CPython >= 3.10, manylinux2014, stripped) and the sdist into dist/
	$(PY) -m pip install --quiet --group release
	rm -rf dist
	$(PY) -m maturin build --release --zig --compatibility manylinux2014 --strip --out dist
	$(PY) -m maturin sdist --out dist
	$(VENV)/bin/auditwheel show dist/*.whl | tee target/auditwheel.txt
	@tr '\n' ' ' < target/auditwheel.txt | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' \
		|| { echo "the wheel is not manylinux2014 (glibc 2.17) compatible" >&2; exit 1; }
	@ls -l dist

test-wheel: wheel ## install the wheel into a fresh venv with no Rust on PATH and serve the quickstart to the official client
	bash scripts/test-wheel.sh dist/*.whl

lint: ## rustfmt, clippy, ruff, pyright
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	$(VENV)/bin/ruff check $(PY_SOURCES)
	$(VENV)/bin/ruff format --check $(PY_SOURCES)
	$(VENV)/bin/pyright
	$(PY) -m mypy.stubtest ferromcp._core

format: ## apply rustfmt and ruff format
	cargo fmt --all
	$(VENV)/bin/ruff format $(PY_SOURCES)
	$(VENV)/bin/ruff check --fix $(PY_SOURCES)

conformance: redis ## the official MCP conformance suite (--suite all) against examples/conformance_server.py, one process and two workers sharing Redis
	bash conformance/run.sh

bench: ## stdio benchmark: ferromcp vs. the official SDK, side by side
	$(PY) benches/stdio_bench.py

# The HTTP smoke leaves out ferromcp-redis: the 2-worker Redis variant goes through every code path it has.
bench-smoke: redis ## short runs of the stdio and HTTP benchmarks, to keep them working (numbers not asserted)
	$(PY) benches/stdio_bench.py --quick
	$(PY) loadtests/run_http_bench.py --quick --no-wrk --only ferromcp,ferromcp-2w-redis,sdk-json,sdk-sse

redis: ## install redis-server (Debian's package) for the Redis store tests, if missing
	@command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server; }

wrk: ## install wrk (Debian's package) for the HTTP ceiling benchmark, if missing
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

loadtest: wrk redis ## HTTP benchmark: ferromcp (also with Redis, and 2 workers + Redis) vs. the official SDK (JSON and SSE modes), side by side (~5 min)
	$(PY) loadtests/run_http_bench.py --duration 10

nginx: ## install nginx (Debian's package) for the deployment kit's checks and tests, if missing
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { apt-get update -qq && apt-get install -y -qq nginx; }

deploy-check: $(PY) nginx ## check the deployment kit (deploy/) offline: yamllint, Kubernetes and compose schemas, nginx -t
	$(PY) -m pip install --quiet --group dev
	$(VENV)/bin/yamllint --strict -c deploy/.yamllint.yaml deploy
	for version in $(K8S_VERSIONS); do \
		$(VENV)/bin/kubernetes-validate --strict --quiet -k $$version deploy/kubernetes/*.yaml || exit 1; done
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec deploy/docker-compose.yml
	bash scripts/check-nginx.sh

valgrind: ## install valgrind (Debian's package) for the instruction-count benchmark, if missing
	@command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }

bench-instructions: valgrind ## instructions per call under callgrind, ferromcp vs. the official SDK, stdio and HTTP, both eras (~5 min)
	$(PY) benches/instructions.py

bench-micro: ## pytest-benchmark micro benchmarks of the dispatch path
	$(PY) -m pytest benches/test_dispatch_bench.py --benchmark-enable -p no:cacheprovider

clean: ## remove build outputs and the virtualenv
	rm -rf target dist $(VENV) python/ferromcp/*.so .pytest_cache .ruff_cache conformance/node_modules
