"""A stdio pass-through that records every line in both directions: `tee_proxy.py LOG -- command ...`.

The official client talks to the proxy as if it were the server; the log lets tests check every message the
server wrote (against the official schema) without trusting the client's parsed view of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from typing import IO


def pump(src: IO[bytes], dst: IO[bytes], log: IO[str], direction: str, lock: threading.Lock) -> None:
    for line in iter(src.readline, b""):
        with lock:
            log.write(json.dumps({"dir": direction, "line": line.decode("utf-8", "replace")}) + "\n")
            log.flush()
        try:
            dst.write(line)
            dst.flush()
        except (BrokenPipeError, ValueError):
            break
    with contextlib.suppress(BrokenPipeError, ValueError):
        dst.close()


def main() -> int:
    log_path, sep, *command = sys.argv[1:]
    assert sep == "--", "usage: tee_proxy.py LOG -- command ..."
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    lock = threading.Lock()
    with open(log_path, "a", encoding="utf-8") as log:
        to_server = threading.Thread(target=pump, args=(sys.stdin.buffer, child.stdin, log, "in", lock), daemon=True)
        to_server.start()
        pump(child.stdout, sys.stdout.buffer, log, "out", lock)
        code = child.wait()
    return code


if __name__ == "__main__":
    sys.stdout.flush()
    # os._exit: the stdin pump may still be blocked in a read, which would stall interpreter shutdown.
    os._exit(main())
