"""Several worker processes on one HTTP port: `server.run("http", workers=N)`.

The process that calls `run` becomes a supervisor. It starts N workers by running the same command line again
(`sys.orig_argv`) with `FERROMCP_WORKER_ID` set: each worker builds the server exactly as the supervisor did,
binds the port with `SO_REUSEPORT` (the kernel spreads connections over the workers) and serves on its own
tokio runtime and Python event loop. Nothing is forked, so no thread or runtime state is inherited.

The supervisor restarts a worker that dies (after a pause that doubles from 0.5 s up to 10 s while a slot keeps
failing, reset once a worker has run for 30 s), forwards SIGTERM and SIGINT to every worker (each drains its
running calls) and exits 0 once they have stopped, or 1 when workers keep crashing (more than 5 restarts within
60 s: a bad port, a broken app). Workers get the request-state keys of the 2026-07-28 input-required round trips
from the supervisor (`FERROMCP_REQUEST_STATE_KEYS`) unless the server was given its own, so a retry that lands
on another worker still opens.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from types import FrameType

__all__ = ["KEYS_ENV", "WORKER_ENV", "supervise", "worker_id"]

WORKER_ENV = "FERROMCP_WORKER_ID"
KEYS_ENV = "FERROMCP_REQUEST_STATE_KEYS"

_logger = logging.getLogger("ferromcp.workers")

_FIRST_PAUSE = 0.5
_MAX_PAUSE = 10.0
_HEALTHY_AFTER = 30.0
_CRASH_WINDOW = 60.0
_MAX_CRASHES = 5


def worker_id() -> str | None:
    """This process's worker id when a supervisor started it."""
    return os.environ.get(WORKER_ENV)


def inherited_keys() -> list[str] | None:
    """The request-state keys the supervisor handed down, if any."""
    keys = os.environ.get(KEYS_ENV)
    return keys.split(",") if keys else None


@dataclass
class _Slot:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    pause: float = _FIRST_PAUSE
    restart_at: float | None = None


@dataclass
class _Supervisor:
    workers: int
    command: list[str]
    env: dict[str, str]
    grace: float
    slots: list[_Slot] = field(default_factory=lambda: [])
    crashes: list[float] = field(default_factory=lambda: [])
    stopping: bool = False

    def start(self, slot: _Slot) -> None:
        env = {**self.env, WORKER_ENV: str(slot.index)}
        slot.proc = subprocess.Popen(self.command, env=env)
        slot.started = time.monotonic()
        slot.restart_at = None

    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        if not self.stopping:
            print(f"ferromcp: stopping {self.workers} workers", file=sys.stderr, flush=True)
        self.stopping = True
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is None:
                slot.proc.send_signal(signal.SIGTERM if signum == signal.SIGINT else signum)

    def reap(self, slot: _Slot, now: float) -> bool:
        """Notices a dead worker and schedules its restart; False when workers keep crashing."""
        assert slot.proc is not None
        code = slot.proc.returncode
        ran = now - slot.started
        slot.proc = None
        if ran >= _HEALTHY_AFTER:
            slot.pause = _FIRST_PAUSE
        self.crashes = [t for t in self.crashes if now - t < _CRASH_WINDOW] + [now]
        _logger.warning("worker %d exited with %s after %.1f s", slot.index, code, ran)
        print(
            f"ferromcp: worker {slot.index} exited ({code}); restarting in {slot.pause:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        if len(self.crashes) > _MAX_CRASHES:
            return False
        slot.restart_at = now + slot.pause
        slot.pause = min(slot.pause * 2, _MAX_PAUSE)
        return True

    def run(self) -> int:
        self.slots = [_Slot(i) for i in range(self.workers)]
        for slot in self.slots:
            self.start(slot)
        while not self.stopping:
            now = time.monotonic()
            for slot in self.slots:
                died = slot.proc is not None and slot.proc.poll() is not None and not self.stopping
                if died and not self.reap(slot, now):
                    print(
                        f"ferromcp: workers keep crashing ({len(self.crashes)} exits in {_CRASH_WINDOW:.0f} s); "
                        "giving up",
                        file=sys.stderr,
                        flush=True,
                    )
                    self.stop(signal.SIGTERM)
                    self.wait()
                    return 1
                if slot.proc is None and slot.restart_at is not None and now >= slot.restart_at:
                    self.start(slot)
            time.sleep(0.05)
        return self.wait()

    def wait(self) -> int:
        """Waits for every worker to drain (killing what outlives the grace period); 0 if all stopped cleanly."""
        deadline = time.monotonic() + self.grace
        worst = 0
        for slot in self.slots:
            if slot.proc is None:
                continue
            try:
                code = slot.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                slot.proc.kill()
                code = slot.proc.wait()
            if code not in (0, -signal.SIGTERM):
                worst = 1
        return worst


def supervise(workers: int, *, keys_given: bool, grace: float) -> int:
    """Runs `workers` copies of this process's command line as workers until SIGTERM/SIGINT; returns the exit
    code. `grace`: seconds a worker may take to drain after the stop signal before it is killed."""
    env = dict(os.environ)
    if not keys_given and KEYS_ENV not in env:
        env[KEYS_ENV] = secrets.token_hex(32)
    command = [sys.executable, *sys.orig_argv[1:]]
    supervisor = _Supervisor(workers, command, env, grace)
    previous = {sig: signal.signal(sig, supervisor.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return supervisor.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
