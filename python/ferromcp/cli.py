"""`ferromcp run path/to/app.py[:server]`: load a module or file and serve the Server it defines."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

from ._server import Server

__all__ = ["load_server", "main"]

_CONVENTIONAL_NAMES = ("server", "mcp", "app")


def load_server(target: str) -> Server:
    """`app.py`, `app.py:server`, `package.module` or `package.module:server` → the Server object."""
    location, _, attr = target.partition(":")
    if location.endswith(".py") or Path(location).is_file():
        path = Path(location).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise SystemExit(f"ferromcp: cannot load {location}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        sys.path.insert(0, str(path.parent))
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(location)
    if attr:
        found = getattr(module, attr, None)
        if not isinstance(found, Server):
            raise SystemExit(f"ferromcp: {target} is not a ferromcp.Server")
        return found
    for name in _CONVENTIONAL_NAMES:
        found = getattr(module, name, None)
        if isinstance(found, Server):
            return found
    servers = [v for v in vars(module).values() if isinstance(v, Server)]
    if len(servers) == 1:
        return servers[0]
    raise SystemExit(f"ferromcp: found {len(servers)} Server objects in {location}; name one as {location}:NAME")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ferromcp", description="Serve a ferromcp Server.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the Server defined in a file or module")
    run.add_argument("target", help="path/to/app.py[:server] or package.module[:server]")
    run.add_argument("--transport", "-t", choices=["stdio", "http", "streamable-http"], default="stdio")
    run.add_argument("--host", default="127.0.0.1", help="HTTP: address to bind (default 127.0.0.1)")
    run.add_argument("--port", "-p", type=int, default=8000, help="HTTP: port (default 8000)")
    run.add_argument("--path", default="/mcp", help="HTTP: endpoint path (default /mcp)")
    run.add_argument("--json-response", action="store_true", help="HTTP: answer POSTs with JSON, never SSE")
    run.add_argument("--workers", "-w", type=int, default=1, help="HTTP: worker processes sharing the port (default 1)")
    run.add_argument(
        "--session-id-prefix",
        help="HTTP: put this before every session id (route sessions to this replica at a load balancer)",
    )
    run.add_argument(
        "--redis-url",
        default=os.environ.get("FERROMCP_REDIS_URL"),
        help="HTTP: share sessions, notifications and tasks through this Redis, e.g. redis://127.0.0.1:6379/0 "
        "(default: $FERROMCP_REDIS_URL)",
    )
    run.add_argument("--redis-prefix", help="HTTP: Redis key prefix (default ferromcp:)")
    args = parser.parse_args(argv)
    server = load_server(args.target)
    if args.transport == "stdio":
        server.run("stdio")
    else:
        options: dict[str, object] = {"json_response": True} if args.json_response else {}
        if args.session_id_prefix:
            options["session_id_prefix"] = args.session_id_prefix
        if args.redis_url:
            options["redis_url"] = args.redis_url
        if args.redis_prefix:
            options["redis_prefix"] = args.redis_prefix
        server.run("http", host=args.host, port=args.port, path=args.path, workers=args.workers, **options)
