"""numba helpers of the rotation action model (LoRR ``MAPF_T``): where an action or an operation leads.

The action step (F: one cell along the heading, R: heading + 1, C: heading - 1, W: stay) was written
out inline in three kernels (the operation ranking, the operation reservation and LNS); it lives
here once so the kernels cannot drift apart. Headings are 0 E, 1 S, 2 W, 3 N; cells are row-major
indices ``r * W + c``; a forward move off the grid gives cell -1.

Readable twin: `fctwin.controller.planning.validate.apply_actions` (plain numpy, shares no code with
the planners); the tests compare the two over every cell, heading and action of small grids, with
numba on and with ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numba

from fctwin.controller.planning._kernels import ACT_C, ACT_F, ACT_R, neighbour
from fctwin.controller.planning.numba_config import NUMBA_OPTS


@numba.njit(**NUMBA_OPTS)
def step_action(H, W, c, hd, a):
    """``(cell, heading)`` after action ``a`` from cell ``c`` facing ``hd``; cell -1 if F leaves the grid."""
    if a == ACT_F:
        return neighbour(H, W, c, hd), hd
    if a == ACT_R:
        return c, (hd + 1) % 4
    if a == ACT_C:
        return c, (hd + 3) % 4
    return c, hd  # W


@numba.njit(**NUMBA_OPTS)
def operation_cells(H, W, c, hd, ops, o, cells):
    """Cells of operation ``o`` (row of ``ops``) started on ``c`` facing ``hd``: ``cells[k]`` at time k
    (``cells[0] = c``, ``cells[1:K + 1]`` after each action). Returns the final heading."""
    cells[0] = c
    for k in range(ops.shape[1]):
        c, hd = step_action(H, W, c, hd, ops[o, k])
        cells[k + 1] = c
    return hd
