"""Processes for the end-to-end `fctwin serve` tests: a free loopback port, a CLI child writing to a
log file, and a bounded stop. Shared by the serve tests that start robot processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (loopback only: network tests never go elsewhere)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, log: Path) -> subprocess.Popen:
    """`python -m fctwin.sim.cli ARGS` from this checkout, stdout and stderr into ``log``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = log.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "fctwin.sim.cli", *args], cwd=ROOT, env=env, stdout=out, stderr=out
    )


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs and reap it (bounded)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
