"""CPU and memory of a process and the processes it started, read from /proc, and the machine's CPU ticks: what a
benchmark reports next to its numbers, to show who was busy."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import time
from collections.abc import Iterator

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
    return pids


def _status_kib(pid: int, field: str) -> int | None:
    """A kB figure of /proc/PID/status (`field` with its colon, e.g. "VmRSS:"); None without it or without /proc."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return None


def rss_bytes(pid: int) -> int:
    """VmRSS of the server and any processes it started."""
    return sum((_status_kib(member, "VmRSS:") or 0) * 1024 for member in _process_tree(pid))


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM, the peak resident set, of one process; None without /proc."""
    return _status_kib(pid, "VmHWM:")


def _cpu_ticks(pid: int) -> int:
    """User + system clock ticks of every thread of `pid`; OSError without /proc or once it is gone."""
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces; the fields after its closing parenthesis are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process (all its threads); None without /proc."""
    try:
        return _cpu_ticks(pid) / CLK_TCK
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the server (all its threads) and any processes it started."""
    total = 0
    for member in _process_tree(pid):
        with contextlib.suppress(OSError):
            total += _cpu_ticks(member)
    return total / CLK_TCK


def machine_cpu_ticks() -> tuple[int, int, int]:
    """(busy, interrupt, total) clock ticks of all cores since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    # guest time is already inside user time; counting it again would exceed 100 %.
    total = sum(fields[:8])
    return total - idle, fields[5] + fields[6], total


def wait_until_quiet(max_wait_s: float, threshold: float = 0.25) -> float:
    """Waits (bounded) for other work on the machine to die down; returns the last busy share seen.

    The generator and server need the machine to themselves: a compile or test run elsewhere would be measured
    as the servers' slowness.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        busy0, _, total0 = machine_cpu_ticks()
        time.sleep(0.5)
        busy1, _, total1 = machine_cpu_ticks()
        share = (busy1 - busy0) / max(total1 - total0, 1)
        if share < threshold or time.monotonic() > deadline:
            return share


@dataclasses.dataclass
class CpuMeter:
    """CPU used during one workload: server and generator as fractions of one core, the machine as a fraction of all.

    The machine figure is there because the per-process ones miss the kernel's loopback networking (softirq time
    is mostly charged to no process), which on a small machine is a large share of the load.
    """

    server_pid: int
    external_generator: bool = False  # True: the generator is a child process (wrk), False: this process
    # A store the server keeps its state in (the scale-out variants' redis-server): metered on its own, and not
    # counted as other work on the machine.
    store_pid: int | None = None
    server_share: float = 0.0
    store_share: float = 0.0
    generator_share: float = 0.0
    machine_busy: float = 0.0
    other_share: float = 0.0

    def _generator_seconds(self) -> float:
        who = resource.RUSAGE_CHILDREN if self.external_generator else resource.RUSAGE_SELF
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    def _store_seconds(self) -> float:
        if self.store_pid is None:
            return 0.0
        return process_cpu_seconds(self.store_pid) or 0.0

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        wall0, server0, gen0 = time.perf_counter(), cpu_seconds(self.server_pid), self._generator_seconds()
        store0 = self._store_seconds()
        busy0, irq0, total0 = machine_cpu_ticks()
        try:
            yield
        finally:
            wall = max(time.perf_counter() - wall0, 1e-9)
            self.server_share = (cpu_seconds(self.server_pid) - server0) / wall
            self.generator_share = (self._generator_seconds() - gen0) / wall
            self.store_share = (self._store_seconds() - store0) / wall
            busy1, irq1, total1 = machine_cpu_ticks()
            ticks = max(total1 - total0, 1)
            cores = os.cpu_count() or 1
            self.machine_busy = (busy1 - busy0) / ticks
            # Whatever is busy besides the two processes and interrupt handling: other work sharing the machine.
            process_cores = (busy1 - busy0 - (irq1 - irq0)) / ticks * cores
            self.other_share = max(0.0, process_cores - self.server_share - self.generator_share - self.store_share)

    def as_dict(self, per_s: float | None = None) -> dict[str, float]:
        """The shares; with `per_s`, the rate of operations (calls, sessions) measured meanwhile, also the server's
        CPU per operation in µs (its store's included, and given on its own)."""
        shares = {
            "server_cpu": self.server_share,
            "generator_cpu": self.generator_share,
            "machine_busy": self.machine_busy,
            "other_cpu": self.other_share,
        }
        if self.store_pid is not None:
            shares["store_cpu"] = self.store_share
        if per_s is not None and per_s > 0:
            shares["server_cpu_us_per_op"] = (self.server_share + self.store_share) / per_s * 1e6
            if self.store_pid is not None:
                shares["store_cpu_us_per_op"] = self.store_share / per_s * 1e6
        return shares
