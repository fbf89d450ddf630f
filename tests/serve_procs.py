"""Processes for the end-to-end `fctwin serve` tests: a free loopback port, a CLI child writing to a
log file, and a bounded stop. Shared by the serve tests that start robot processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

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


def run_kpis(proc: subprocess.Popen, log: Path, timeout_s: float | None = None) -> dict:
    """Wait (bounded by ``timeout_s``, if given) for a `fctwin serve` child that must finish; return
    the KPIs it printed. Fails the test with the log's tail if it does not end or ends with an error."""
    if timeout_s is not None:
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{log.name}: serve did not finish: " + log.read_text()[-3000:])
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    return json.loads(text[text.index("{\n") :])


def stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` if it still runs and reap it (bounded)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
