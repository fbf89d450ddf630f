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

``highways+grid`` (`grid_highway_move_costs`) adds RHCR-style one-way streets across open floor,
where the aisle rule finds nothing (RHCR's ``kiva.map`` is open floor between shelf blocks): rows
and columns free over (almost) their whole length alternate direction, forming a grid of loops.
Penalties stay below 10 so ``1 + 2 * penalty`` fits the tables' ``uint8`` move costs.

``highways+open`` (`open_street_move_costs`) puts such streets only where the aisle rule left the
floor unguided: on the LoRR warehouse_large map the open bands between the shelf area and the
emitter pockets (top rows 3-7, bottom rows 131-136) and the open columns at the west side, where a
third of the fleet queues for the emitters and meets head-on; the shelf aisles keep their own rule
(the whole-floor streets of ``highways+grid`` also overlay the shelf aisles there, with their own
parity, which made MR24-WAREHOUSE jam: 56% waits).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "band_move_costs",
    "grid_highway_move_costs",
    "highway_move_costs",
    "open_street_move_costs",
    "uniform_move_costs",
]


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


def grid_highway_move_costs(
    passable: np.ndarray, *, penalty: int = 1, street_share: float = 0.9, aisle_penalty: int | None = None
) -> np.ndarray:
    """`highway_move_costs` plus alternating one-way *streets* across open floor: ``uint8[H, W, 4]``.

    A street is a row (column) that is free over at least ``street_share`` of its length: on RHCR's
    ``kiva.map`` the 25 rows outside the shelf rows and the 16 columns at the sides and through the
    gaps between shelf blocks. Streets alternate E, W, E, ... (rows) and S, N, S, ... (columns) in
    order, so they form loops; moving against costs ``penalty`` more, on top of the aisle rule. Where
    the two disagree (kiva's two gap columns) both directions cost ``1 + penalty``: a two-way street
    that routes use only when it saves more than ``penalty`` steps.
    Measured on kiva.map (seed 0, penalty 2, tasks/step at 140 / 220 agents): this 3.54 / 4.45; the
    gap columns one-way 2.58 / 2.64, or two-way at cost 1 1.06 / 1.19, or at 1 + 2 * penalty 3.38 /
    3.80; every row and column alternating by parity 2.62 (140); aisle highways alone 2.77 (140,
    penalty 4).
    ``aisle_penalty`` (default: ``penalty``) prices the aisle rule alone: on kiva.map the gap
    columns then cost ``1 + aisle_penalty`` one way and ``1 + penalty`` the other, so they are
    still two-way but dear, and mostly used in the aisle rule's direction (grid model, 140 robots,
    seeds 10-14, task-length weighted: 4.63 at 1, 4.69 / 4.69 / 4.70 / 4.68 at 2 / 3 / 4 / 6).
    """
    cost = highway_move_costs(passable, penalty=penalty if aisle_penalty is None else aisle_penalty)
    free = np.asarray(passable, bool)
    H, W = free.shape
    rows = np.flatnonzero(free.sum(axis=1) >= street_share * W)
    for k, r in enumerate(rows):
        cost[r, free[r], 2 if k % 2 == 0 else 0] += penalty  # even-ranked streets run east
    cols = np.flatnonzero(free.sum(axis=0) >= street_share * H)
    for k, c in enumerate(cols):
        cost[free[:, c], c, 3 if k % 2 == 0 else 1] += penalty  # even-ranked streets run south
    return cost


def open_street_move_costs(
    passable: np.ndarray, *, penalty: int = 1, street_share: float = 0.9
) -> np.ndarray:
    """`highway_move_costs` plus alternating one-way streets over the floor the aisle rule left open.

    A street is a row (column) free over at least ``street_share`` of its length of which at least
    half the free cells have no aisle preference; streets alternate E, W, E, ... (rows) and S, N,
    S, ... (columns) in order among themselves, and the street rule prices only the street's cells
    without an aisle preference (moving against costs ``1 + penalty``; where a row and a column
    street cross, both apply). Cells the aisle rule guides keep exactly its costs.
    """
    cost = highway_move_costs(passable, penalty=penalty)
    free = np.asarray(passable, bool)
    H, W = free.shape
    open_cell = free & (cost == 1).all(axis=2)  # free and not guided by the aisle rule
    rows = open_rows(free, open_cell, street_share)
    cols = [
        c
        for c in range(W)
        if free[:, c].sum() >= street_share * H and 2 * open_cell[:, c].sum() >= free[:, c].sum()
    ]
    for k, r in enumerate(rows):
        cost[r, open_cell[r], 2 if k % 2 == 0 else 0] += penalty  # even-ranked streets run east
    for k, c in enumerate(cols):
        cost[open_cell[:, c], c, 3 if k % 2 == 0 else 1] += penalty  # even-ranked streets run south
    return cost


def open_rows(free: np.ndarray, open_cell: np.ndarray, street_share: float) -> list[int]:
    """Rows free over at least ``street_share`` of their length of which at least half the free cells
    are ``open_cell`` (not guided by the aisle rule): the open bands of a warehouse floor."""
    W = free.shape[1]
    return [
        r
        for r in range(free.shape[0])
        if free[r].sum() >= street_share * W and 2 * open_cell[r].sum() >= free[r].sum()
    ]


def band_move_costs(
    passable: np.ndarray, *, penalty: int = 1, band_cost: int = 1, street_share: float = 0.9
) -> np.ndarray:
    """`highway_move_costs` with every move out of an open band's unguided cells ``band_cost`` dearer.

    The open bands (`open_rows`) of the LoRR warehouse_large map lie between the shelf area and the
    emitter pockets, where a third of the fleet queues; routes that run along a band, rather than
    along the shelf aisles and into the band only at the end, cross those queues. The LoRR 2024
    winners' warehouse guidance graph makes the same two bands dearer (by 5%, on a finer cost
    scale than our integer move costs allow).
    """
    if not 0 <= band_cost <= 9:
        raise ValueError("band_cost must be in 0..9")
    cost = highway_move_costs(passable, penalty=penalty)
    free = np.asarray(passable, bool)
    open_cell = free & (cost == 1).all(axis=2)
    for r in open_rows(free, open_cell, street_share):
        cost[r, open_cell[r], :] += band_cost
    return cost
