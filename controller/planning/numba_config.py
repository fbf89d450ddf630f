"""numba options for every planner kernel, in one place (as STUMPY's ``config.py``).

``cache=True`` writes compiled kernels beside the sources so a warm start loads them in well under a
second instead of recompiling. ``fastmath`` stays off: kernels compare integer keys and must give the
same answers as the pure-Python reference. Kernels are single-threaded (no ``parallel``): the
dispatcher host is shared and one planning step is far below the step period.

Set ``NUMBA_DISABLE_JIT=1`` to run every kernel as plain Python (tests do this in a subprocess).
"""

from __future__ import annotations

NUMBA_OPTS: dict[str, bool] = {"cache": True, "nogil": True, "fastmath": False}
