"""Traffic guidance: direction-dependent move costs that turn aisles into one-way "highways".

Head-on meetings in one-cell-wide aisles are what stalls PIBT in dense warehouses: with the rotation
model the unit that yields must turn twice before it can back out. Chen et al. ("Traffic flow
optimisation for lifelong multi-agent path finding", AAAI 2024) and the LoRR 2024 start kit guide
units along a flow-optimised guidance graph; RHCR (Li et al., AAAI 2021) uses fixed highways. We use
the fixed, map-derived version, which needs no optimisation at run time: every row that contains
horizontal aisle cells (free, blocked above and below) gets a preferred direction, alternating
E, W, E, ... in row order; every column with vertical aisle cells alternates S, N, S, .... Moving
against the preference costs ``1 + penalty`` in the distance tables (moves stay allowed: this shapes
routes, it never forbids a cell). Open areas get no preference.
"""

from __future__ import annotations

import numpy as np

__all__ = ["highway_move_costs", "uniform_move_costs"]


def uniform_move_costs(shape: tuple[int, int]) -> np.ndarray:
    """``uint8[H, W, 4]`` all ones: plain shortest paths."""
    return np.ones((*shape, 4), np.uint8)


def highway_move_costs(passable: np.ndarray, *, penalty: int = 1) -> np.ndarray:
    """Cost of one forward move from each cell in each heading (0 E, 1 S, 2 W, 3 N): ``uint8[H, W, 4]``.

    passable: ``bool[H, W]``; penalty: extra cost (0..9) of moving against an aisle's direction.
    """
    if not 0 <= penalty <= 9:
        raise ValueError("penalty must be in 0..9")
    free = np.asarray(passable, bool)
    H, W = free.shape
    pad = np.zeros((H + 2, W + 2), bool)
    pad[1:-1, 1:-1] = free
    up, down = pad[:-2, 1:-1], pad[2:, 1:-1]
    left, right = pad[1:-1, :-2], pad[1:-1, 2:]
    horiz_aisle = free & ~up & ~down & (left | right)
    vert_aisle = free & ~left & ~right & (up | down)
    cost = uniform_move_costs((H, W))
    rows = np.flatnonzero(horiz_aisle.sum(axis=1) >= 2)
    for k, r in enumerate(rows):
        against = 2 if k % 2 == 0 else 0  # even-ranked aisle rows run east: moving west is penalised
        cost[r, free[r], against] += penalty
    cols = np.flatnonzero(vert_aisle.sum(axis=0) >= 2)
    for k, c in enumerate(cols):
        against = 3 if k % 2 == 0 else 1  # even-ranked aisle columns run south
        cost[free[:, c], c, against] += penalty
    return cost
