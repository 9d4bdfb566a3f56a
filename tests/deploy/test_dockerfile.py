"""deploy/Dockerfile, checked without a Docker daemon (none on this project's machine): parsed by the official
BuildKit parser (the `dockerfile` package) and held to the kit's promises — a Rust builder stage and a
runtime stage from official images, only the wheel and the app in the runtime, a non-root user, port 8000, a
HEALTHCHECK on /healthz — and the image's command and health check run here for real against the kit's app."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import time
from pathlib import Path

import dockerfile

from tests.support.nginx import APP, DEPLOY
from tests.support.paths import ROOT
from tests.support.procs import free_port

Instruction = dockerfile.Command


def stages() -> list[list[Instruction]]:
    out: list[list[Instruction]] = []
    for instruction in dockerfile.parse_file(str(DEPLOY / "Dockerfile")):
        if instruction.cmd == "FROM":
            out.append([])
        assert out, f"{instruction.original} before the first FROM"
        out[-1].append(instruction)
    return out


def only(stage: list[Instruction], cmd: str) -> Instruction:
    found = [i for i in stage if i.cmd == cmd]
    assert len(found) == 1, f"expected one {cmd}, found {[i.original for i in found]}"
    return found[0]


def official(image: str) -> bool:
    """An official Docker Hub image: no registry host, no namespace."""
    return "/" not in image.split(":")[0]


def test_two_stages_from_official_images() -> None:
    builder, runtime = stages()
    assert builder[0].value[1:] == ("AS", "builder")
    assert runtime[0].value[0] == "python:3.11-slim-bookworm"
    images = [s[0].value[0] for s in (builder, runtime)]
    images += [f.split("=", 1)[1] for i in builder if i.cmd == "COPY" for f in i.flags if f.startswith("--from=")]
    assert all(official(image) for image in images), images
    assert any(image.startswith("rust:") for image in images), "the builder has no Rust toolchain"


def test_the_builder_builds_the_wheel_and_the_runtime_installs_only_it() -> None:
    builder, runtime = stages()
    assert any(i.cmd == "RUN" and "maturin build --release" in i.value[0] for i in builder)
    wheel = [i for i in runtime if i.cmd == "RUN" and "from=builder" in " ".join(i.flags)]
    assert wheel and "pip install /wheels/*.whl" in wheel[0].value[0]
    runtime_text = " ".join(" ".join(i.value) for i in runtime[1:]).lower()
    assert not any(tool in runtime_text for tool in ("cargo", "rustup", "rustc", "maturin")), runtime_text


def test_the_runtime_runs_as_a_non_root_user_on_port_8000() -> None:
    runtime = stages()[-1]
    user = [i for i in runtime if i.cmd == "USER"][-1].value[0]
    assert user.split(":")[0] not in ("root", "0"), user
    # Nothing after the USER switch runs as root again, and the switch comes after the last RUN.
    assert runtime.index([i for i in runtime if i.cmd == "USER"][-1]) > max(
        n for n, i in enumerate(runtime) if i.cmd == "RUN"
    )
    assert only(runtime, "EXPOSE").value == ("8000",)


def test_the_healthcheck_and_command_work_against_the_kit_app(tmp_path: Path) -> None:
    runtime = stages()[-1]
    health = only(runtime, "HEALTHCHECK")
    cmd = only(runtime, "CMD")
    assert cmd.json and health.json, "exec form (JSON arrays): no shell in between, signals reach ferromcp"
    assert health.value[0] == "CMD" and "http://127.0.0.1:8000/healthz" in " ".join(health.value)
    assert cmd.value == ("ferromcp", "run", "/app/app.py", "--transport", "http", "--host", "0.0.0.0", "--port", "8000")
    app_dir = only(runtime, "ARG").value[0].split("=", 1)[1]
    assert ROOT / app_dir / "app.py" == APP
    # Run the command as the image would (the app from APP_DIR, the venv's ferromcp), on loopback and a free
    # port instead of 0.0.0.0:8000, then the health check against it.
    port = str(free_port())
    command = [sys.executable, "-m", "ferromcp", *cmd.value[1:]]
    command = [
        str(APP) if a == "/app/app.py" else "127.0.0.1" if a == "0.0.0.0" else port if a == "8000" else a
        for a in command
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=str(tmp_path))
    try:
        probe = [sys.executable if a == "python" else a.replace(":8000/", f":{port}/") for a in health.value[1:]]
        for _ in range(100):
            checked = subprocess.run(probe, capture_output=True, timeout=10, check=False)
            if checked.returncode == 0 or server.poll() is not None:
                break
            time.sleep(0.1)
        assert checked.returncode == 0, checked.stderr
    finally:
        server.terminate()
        server.wait(timeout=15)
        assert server.stderr is not None
        server.stderr.close()


def test_the_build_context_keeps_outputs_out_and_sources_in() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert {"target", ".venv", "node_modules", ".git"} <= set(patterns)

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in patterns)

    builder, runtime = stages()
    copied = [src for i in builder if i.cmd == "COPY" and not i.flags for src in i.value[:-1]]
    copied.append(only(runtime, "ARG").value[0].split("=", 1)[1])
    for source in copied:
        assert (ROOT / source).exists(), source
        assert not ignored(source), f"{source} is copied but .dockerignore keeps it out"
