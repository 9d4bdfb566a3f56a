"""A real nginx (Debian's package, `make nginx`) serving the deployment kit's config (deploy/nginx/ferromcp.conf)
on a free loopback port, in front of replicas on loopback ports, from a temporary prefix; and the kit's app
(deploy/app/app.py) served by `ferromcp run` as one named replica."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from tests.support.paths import ROOT
from tests.support.procs import free_port

DEPLOY = ROOT / "deploy"
APP = DEPLOY / "app" / "app.py"
# Every request nginx passed on: the upstream that answered, the status, the method, the request's Mcp-Session-Id
# and Mcp-Method headers.
LOG_FORMAT = "'$upstream_addr $status $request_method $http_mcp_session_id $http_mcp_method'"


def nginx_binary() -> str:
    """The nginx executable; fails (never skips) when it is missing."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise AssertionError("nginx is not installed: `make nginx` installs it (Debian's package)")
    return found


class Replica:
    """`ferromcp run deploy/app/app.py` over HTTP on a free loopback port, minting `<name>.`-prefixed session ids."""

    def __init__(self, name: str, keys: str) -> None:
        self.name = name
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "ferromcp", "run", str(APP), "--transport", "http"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--session-id-prefix", f"{name}."]
        env = {**os.environ, "FERROMCP_REPLICA": name, "FERROMCP_REQUEST_STATE_KEYS": keys}
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(ROOT), env=env)
        _wait_for(f"http://{self.address}/readyz", self.proc, f"replica {name}")

    def stop(self, timeout: float = 15.0) -> bytes:
        return _stop(self.proc, timeout)


class Nginx:
    """nginx with deploy/nginx/ferromcp.conf, the replicas as this environment's upstreams, listening on a free
    loopback port; `daemon off`, one worker (round robin then alternates predictably), everything in `prefix`."""

    def __init__(self, prefix: Path, replicas: dict[str, str]) -> None:
        """`replicas` maps a replica's name (`replica-a`) to its address (`127.0.0.1:PORT`)."""
        self.prefix = prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = prefix / "access.log"
        self.error_log = prefix / "error.log"
        (prefix / "ferromcp").mkdir(parents=True)
        shutil.copy(DEPLOY / "nginx" / "ferromcp.conf", prefix / "ferromcp.conf")
        (prefix / "ferromcp" / "listen.conf").write_text(f"listen 127.0.0.1:{self.port};\n")
        (prefix / "ferromcp" / "upstreams.conf").write_text(_upstreams(replicas))
        (prefix / "nginx.conf").write_text(
            f"""daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {self.error_log} info;
events {{ worker_connections 256; }}
http {{
    log_format upstreams {LOG_FORMAT};
    access_log {self.access_log} upstreams;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include ferromcp.conf;
}}
"""
        )
        binary = nginx_binary()
        subprocess.run([binary, "-t", "-q", "-p", str(prefix), "-c", str(prefix / "nginx.conf")], check=True)
        self.proc = subprocess.Popen(
            [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _wait_for(f"{self.url}/healthz", self.proc, "nginx")

    def log(self) -> list[Logged]:
        """Every request nginx has logged so far (a request is logged once its answer has been sent)."""
        out: list[Logged] = []
        for line in self.access_log.read_text().splitlines():
            upstream, status, method, session, mcp_method = line.split(" ")
            out.append(Logged(upstream, int(status), method, _unset(session), _unset(mcp_method)))
        return out

    def wait_log(self, done: Callable[[list[Logged]], bool], timeout: float = 5.0) -> list[Logged]:
        """The log once `done(log)` holds (nginx writes a line just after the answer's last byte)."""
        deadline = time.monotonic() + timeout
        while not done(log := self.log()):
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx's access log did not get there: {log}")
            time.sleep(0.05)
        return log

    def stop(self, timeout: float = 10.0) -> bytes:
        """SIGTERM, then wait; returns stderr."""
        return _stop(self.proc, timeout)


class Logged(NamedTuple):
    upstream: str
    status: int
    method: str
    session_id: str
    mcp_method: str


def _unset(value: str) -> str:
    """nginx logs an unset variable as "-"."""
    return "" if value == "-" else value


def _upstreams(replicas: dict[str, str]) -> str:
    any_servers = "".join(f"    server {address};\n" for address in replicas.values())
    out = f"upstream ferromcp_any {{\n{any_servers}    keepalive 8;\n}}\n"
    for name, address in replicas.items():
        upstream = "ferromcp_" + name.replace("-", "_")
        out += f"upstream {upstream} {{\n    server {address};\n    keepalive 4;\n}}\n"
    return out


def _wait_for(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start: {_stop(proc, 5)!r}") from None
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes], timeout: float) -> bytes:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    return err
