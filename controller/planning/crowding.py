"""Which units stand in a crowd: the share of free cells around a unit that other units occupy.

LNS with a relaxed priority rule (`fctwin.controller.planning.pibt`, ``lns_priority_slack``) gains
early on MR24-WAREHOUSE and then falls behind as queues build up at the emitter bands, where a third
of the fleet crowds; ``lns_crowd_radius`` / ``lns_crowd_share`` / ``lns_crowd_slack`` give units in
such crowds a slack of their own (more, or none), so trades can be aimed at the queues or kept out.
"""

from __future__ import annotations

import numpy as np


def window_counts(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray, radius: int) -> np.ndarray:
    """Sum of ``grid`` (``[H, W]``, numbers) over the square of half-width ``radius`` around each
    (row, col), clipped at the grid's edges (``int64[len(rows)]``; an integral image, O(H*W + n))."""
    H, W = grid.shape
    integral = np.zeros((H + 1, W + 1), np.int64)
    integral[1:, 1:] = np.asarray(grid, np.int64).cumsum(0).cumsum(1)
    r0 = np.clip(rows - radius, 0, H)
    r1 = np.clip(rows + radius + 1, 0, H)
    c0 = np.clip(cols - radius, 0, W)
    c1 = np.clip(cols + radius + 1, 0, W)
    return integral[r1, c1] - integral[r0, c1] - integral[r1, c0] + integral[r0, c0]


def crowded_units(pos_lin: np.ndarray, passable: np.ndarray, radius: int, share: float) -> np.ndarray:
    """Whether each unit (cell ``pos_lin``, row-major on ``passable`` ``bool[H, W]``) stands where at
    least ``share`` of the passable cells within ``radius`` (a square of side 2 * radius + 1) hold a
    unit, itself included (``bool[N]``)."""
    H, W = passable.shape
    occupied = np.zeros(H * W, np.int64)
    occupied[pos_lin] = 1  # one unit per cell (conflict-free)
    rows = np.asarray(pos_lin, np.int64) // W
    cols = np.asarray(pos_lin, np.int64) % W
    units = window_counts(occupied.reshape(H, W), rows, cols, radius)
    free = window_counts(passable, rows, cols, radius)
    return units >= share * np.maximum(free, 1)
