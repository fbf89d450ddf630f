"""Run a kernel script with numba on and with ``NUMBA_DISABLE_JIT=1``, so tests can compare the two."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def jit_and_nojit_outputs(code: str, *, timeout_s: float = 140.0) -> tuple[object, object]:
    """Run ``code`` (a script printing one JSON value) in two fresh interpreters: compiled kernels,
    then the same kernels as plain Python. Returns both decoded outputs.

    ``timeout_s`` only guards against a hang: the pair stays inside pytest's 300 s per test. A cold
    numba cache on a loaded machine took ~120 s to compile once (the old bound failed there)."""
    jit = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s, check=True
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    nojit = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s, check=True, env=env
    )
    return json.loads(jit.stdout), json.loads(nojit.stdout)
