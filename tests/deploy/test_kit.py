"""The deployment kit's files agree with each other: each compose replica mints session ids with its own name
as prefix, nginx's map sends that prefix to an upstream holding that replica (and only it), the Kubernetes
Deployment probes the health endpoints on the port it serves and runs as the image's user, and the ConfigMap
carries deploy/app/app.py unchanged. (Schemas, YAML style and `nginx -t`: `make deploy-check`.)"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.support.nginx import APP, DEPLOY


def load_all(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def compose_replicas() -> dict[str, list[str]]:
    services: dict[str, Any] = load_all("docker-compose.yml")[0]["services"]
    return {name: s["command"] for name, s in services.items() if s.get("command", [])[:2] == ["ferromcp", "run"]}


def upstreams(text: str) -> dict[str, list[str]]:
    blocks = re.findall(r"upstream\s+(\w+)\s*\{([^}]*)\}", text)
    return {name: re.findall(r"^\s*server\s+(\S+);", body, re.M) for name, body in blocks}


def test_each_replica_mints_ids_that_nginx_routes_back_to_it() -> None:
    replicas = compose_replicas()
    assert set(replicas) == {"replica-a", "replica-b"}
    routes = dict(re.findall(r"~\^([\w-]+)\\\.\s+(\w+);", (DEPLOY / "nginx" / "ferromcp.conf").read_text()))
    servers = upstreams((DEPLOY / "nginx" / "compose" / "upstreams.conf").read_text())
    for name, command in replicas.items():
        assert command[command.index("--session-id-prefix") + 1] == f"{name}."
        assert command[command.index("--host") + 1] == "0.0.0.0", "bound to loopback, nginx could not reach it"
        port = command[command.index("--port") + 1]
        assert servers[routes[name]] == [f"{name}:{port}"], (name, routes, servers)
    assert sorted(servers["ferromcp_any"]) == sorted(f"{n}:{c[c.index('--port') + 1]}" for n, c in replicas.items())


def test_the_nginx_config_keeps_streams_flowing() -> None:
    conf = (DEPLOY / "nginx" / "ferromcp.conf").read_text()
    for directive in (
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_buffering off;",
        "proxy_cache off;",
        "proxy_set_header Host $host;",
        "map $http_mcp_session_id $ferromcp_upstream",
    ):
        assert directive in conf, directive
    assert re.search(r"proxy_read_timeout\s+(\d+)h;", conf), "SSE streams need a long read timeout"


def test_the_kubernetes_deployment_probes_and_runs_as_the_image_does() -> None:
    deployment = next(d for d in load_all("kubernetes/deployment.yaml") if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[:2] == ["ferromcp", "run"] and args[args.index("--host") + 1] == "0.0.0.0"
    port = int(args[args.index("--port") + 1])
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert set(container["resources"]) == {"requests", "limits"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    dockerfile_user = re.findall(r"^USER\s+(\d+)", (DEPLOY / "Dockerfile").read_text(), re.M)[-1]
    assert pod["securityContext"]["runAsUser"] == int(dockerfile_user)
    (service,) = load_all("kubernetes/service.yaml")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (hpa,) = load_all("kubernetes/hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_the_configmap_carries_the_kit_app() -> None:
    (configmap,) = load_all("kubernetes/configmap.yaml")
    assert configmap["data"]["app.py"] == APP.read_text(), "configmap.yaml must carry deploy/app/app.py as it is"
