"""What the dispatcher knows of the building at start: plain data, built by whoever hosts it.

The controller never imports `sim`; the runtime converts its scene into a `FloorPlan`, and a
hardware deployment could build one from its own site database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Cell = tuple[int, int]  # row, col

# Cell codes (same values as the scene layout).
AISLE, WALL, STORAGE, PICK, STOW, DOCK, CHARGE, PARK = range(8)


def grid_bfs_distance(passable: np.ndarray, sources) -> np.ndarray:
    """4-connected BFS distance in cells from any of ``sources`` over bool[H, W] ``passable``.

    Returns int32[H, W], -1 where unreachable; sources count as distance 0 even on blocked cells.
    Expands the whole wavefront per step with array shifts (one numpy pass per distance ring), which is
    tens of times faster than a cell-by-cell Python queue on warehouse-sized grids.
    """
    passable = np.asarray(passable, dtype=bool)
    dist = np.full(passable.shape, -1, dtype=np.int32)
    frontier = np.zeros(passable.shape, dtype=bool)
    for cell in sources:
        frontier[tuple(cell)] = True
    dist[frontier] = 0
    unvisited = passable & ~frontier
    ring = np.empty_like(frontier)
    d = 0
    while True:
        ring[...] = False
        ring[1:, :] |= frontier[:-1, :]
        ring[:-1, :] |= frontier[1:, :]
        ring[:, 1:] |= frontier[:, :-1]
        ring[:, :-1] |= frontier[:, 1:]
        ring &= unvisited
        if not ring.any():
            return dist
        d += 1
        dist[ring] = d
        unvisited &= ~ring
        frontier, ring = ring, frontier


@dataclass(frozen=True, kw_only=True)
class StationInfo:
    station_id: str
    kind: str  # "pick" | "stow"
    cell: Cell
    # it takes `Withdraw` (person-worked stations): a drained station's face pod can go to storage.
    # False (a station that does not say, an external one): the face pod waits for it to reopen.
    accepts_withdraw: bool = False


@dataclass(frozen=True, kw_only=True)
class DriveUnitInfo:
    unit_id: str
    payload_kg: float
    low_battery_frac: float


@dataclass(frozen=True, kw_only=True)
class FloorPlan:
    grid: np.ndarray  # uint8[H, W] cell codes
    cell_size_m: float
    step_s: float
    stations: tuple[StationInfo, ...]
    drive_units: tuple[DriveUnitInfo, ...]
    charge_cells: tuple[Cell, ...]
    pod_cells: np.ndarray  # int32[P, 2] where each pod stands at start
    slot_sku: np.ndarray  # int32[P, K] SKU per slot (-1 empty)
    slot_units: np.ndarray  # int32[P, K]
    pod_capacity_units: int
    pod_empty_mass_kg: float
    pod_max_gross_mass_kg: float
    sku_mass_kg: np.ndarray  # float64[S]
    # the host's forecast share of demand per SKU (float64[S]), the slotting policies' prior; None: uniform
    sku_demand_prob: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class DispatchConfig:
    # One policy name per family (fctwin.controller.policies; docs/policies.md), defaults first.
    planner: str = "pibt"
    order_assignment: str = "least_loaded"
    pod_selection: str = "most_lines"
    unit_allocation: str = "nearest"
    pod_storage: str = "nearest_free"  # the scene's older name for it: pod_return
    stow_assignment: str = "shortest_queue"
    charging: str = "opportunity"
    parking: str = "under_pod"
    replenishment: str = (
        "none"  # purchase orders from inventory position (controller/policies/replenishment.py)
    )
    # family -> keyword parameters for that family's policy (the scene's [dispatch.params.<family>])
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_lines_per_station: int = 12
    units_per_carton: int = 12  # the supplier's carton: replenishment orders whole cartons
    queue_cells: int = 3
    seed: int = 0
    # An idle unit below this charge goes to a free charging pad (opportunity charging), so a fleet
    # that starts the shift fully charged does not run low all at once and queue for the few pads.
    # 0 disables it (units then charge only at their low-battery threshold).
    opportunity_charge_frac: float = 0.5
    # A station closed this long (a person-worked station with 0 associates) is drained: pods not
    # yet at its face go back to storage, their lines to the open stations (controller/closures.py).
    # Longer than the shipped shift plans' 30-minute breaks; None keeps them until it reopens.
    closed_queue_hold_s: float | None = 2700.0
