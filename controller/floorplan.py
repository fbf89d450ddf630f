"""What the dispatcher knows of the building at start: plain data, built by whoever hosts it.

The controller never imports `sim`; the runtime converts its scene into a `FloorPlan`, and a
hardware deployment could build one from its own site database.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Cell = tuple[int, int]  # row, col

# Cell codes (same values as the scene layout).
AISLE, WALL, STORAGE, PICK, STOW, DOCK, CHARGE, PARK = range(8)


@dataclass(frozen=True, kw_only=True)
class StationInfo:
    station_id: str
    kind: str  # "pick" | "stow"
    cell: Cell


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


@dataclass(frozen=True, kw_only=True)
class DispatchConfig:
    planner: str = "pibt"
    order_assignment: str = "least_loaded"
    pod_return: str = "nearest_free"
    max_lines_per_station: int = 12
    queue_cells: int = 3
    seed: int = 0
