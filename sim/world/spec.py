"""`WorldSpec`: what the world needs from a scene, validated; and the floor's extent in metres.

The world is decoupled from the scene schema through `WorldSpec`; the scene layer builds one from a
validated scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fctwin.sim.world.assets import STORAGE, WALL


@dataclass(frozen=True, kw_only=True, eq=False)
class WorldSpec:
    """What the world needs from a scene.

    Attributes:
        cell_size_m: side of a square grid cell.
        cell_codes: uint8[H, W], one of AISLE, WALL, STORAGE, PICK, STOW, DOCK, CHARGE, PARK per cell.
        pod_cells: int32[P, 2] initial (row, col) of each pod; pod id = row index. Each on a distinct
            STORAGE cell.
        pod_size_m: pod (length x, width y, height z); the kiva_shelf dimensions by default.
        unit_footprint_m: drive unit (length along heading, width); scaled down to fit a cell if needed.
        n_units: number of drive units N.
        unit_cells: int32[N, 2] initial (row, col) of each unit.
        unit_headings: int8[N] initial heading of each unit (0 east, 1 south, 2 west, 3 north).

    Raises:
        ValueError: an array has the wrong shape, or a cell is off the grid, or a pod is not on a
            distinct STORAGE cell, or a unit starts on a WALL.
    """

    cell_size_m: float
    cell_codes: np.ndarray
    pod_cells: np.ndarray
    pod_size_m: tuple[float, float, float] = (0.91, 0.88, 2.30)
    unit_footprint_m: tuple[float, float] = (1.0, 0.8)
    n_units: int
    unit_cells: np.ndarray
    unit_headings: np.ndarray

    def __post_init__(self) -> None:
        codes = np.ascontiguousarray(self.cell_codes, dtype=np.uint8)
        pods = np.ascontiguousarray(self.pod_cells, dtype=np.int32).reshape(-1, 2)
        units = np.ascontiguousarray(self.unit_cells, dtype=np.int32).reshape(-1, 2)
        headings = np.ascontiguousarray(self.unit_headings, dtype=np.int8).reshape(-1)
        if not self.cell_size_m > 0:
            raise ValueError(f"cell_size_m must be > 0, got {self.cell_size_m}")
        if codes.ndim != 2 or codes.size == 0:
            raise ValueError(f"cell_codes must be a non-empty uint8[H, W], got shape {codes.shape}")
        if len(units) != self.n_units or len(headings) != self.n_units:
            raise ValueError(
                f"n_units={self.n_units} but unit_cells has {len(units)} rows, unit_headings {len(headings)}"
            )
        if np.any((headings < 0) | (headings > 3)):
            raise ValueError("unit_headings must be in 0..3 (0 east, 1 south, 2 west, 3 north)")
        for name, cells in (("pod_cells", pods), ("unit_cells", units)):
            off = (cells < 0).any(axis=1) | (cells[:, 0] >= codes.shape[0]) | (cells[:, 1] >= codes.shape[1])
            if off.any():
                raise ValueError(f"{name}[{int(np.argmax(off))}] = {cells[off][0].tolist()} is off the grid")
        if len(pods):
            not_storage = codes[pods[:, 0], pods[:, 1]] != STORAGE
            if not_storage.any():
                raise ValueError(f"pod {int(np.argmax(not_storage))} does not start on a STORAGE cell")
            if len(np.unique(pods[:, 0] * codes.shape[1] + pods[:, 1])) != len(pods):
                raise ValueError("two pods start on the same storage cell")
        if len(units) and np.any(codes[units[:, 0], units[:, 1]] == WALL):
            raise ValueError("a unit starts on a WALL cell")
        object.__setattr__(self, "cell_codes", codes)
        object.__setattr__(self, "pod_cells", pods)
        object.__setattr__(self, "unit_cells", units)
        object.__setattr__(self, "unit_headings", headings)


def floor_size_xy(spec: WorldSpec) -> tuple[float, float]:
    """(x, y) extent of the grid in metres."""
    rows, cols = spec.cell_codes.shape
    return cols * spec.cell_size_m, rows * spec.cell_size_m


def floor_centre_xy(spec: WorldSpec) -> tuple[float, float]:
    """World (x_m, y_m) of the middle of the grid."""
    size_x, size_y = floor_size_xy(spec)
    return size_x / 2, -size_y / 2
