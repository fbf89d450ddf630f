"""The compiled, frozen scene: what the runtime and the dispatcher read.

Arrays are made read-only at load; cells are ``(row, col)``, masses in kg, times in s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fctwin.sim.scene.layout import CellCode
from fctwin.sim.scene.schema import DriveUnitGroup, SceneFile, StationGroup

Cell = tuple[int, int]  # row, col


@dataclass(frozen=True, kw_only=True)
class DriveUnitDef:
    unit_id: str
    group_index: int
    config: DriveUnitGroup
    cell: Cell
    heading: int
    external: bool = False


@dataclass(frozen=True, kw_only=True)
class StationDef:
    station_id: str
    kind: str  # "pick" | "stow"
    unit: str  # "human" | "vulcan" | "bluejay" | "sequoia"
    cell: Cell
    group_index: int
    config: StationGroup


@dataclass(frozen=True, kw_only=True)
class SkuTable:
    demand_prob: np.ndarray  # float64[S], sums to 1
    size_m: np.ndarray  # float64[S, 3]
    mass_kg: np.ndarray  # float64[S]
    family: np.ndarray | None = None  # int32[S] family of each SKU (skus.families), None without

    @property
    def count(self) -> int:
        return int(self.demand_prob.shape[0])


@dataclass(frozen=True, kw_only=True)
class PodTable:
    home_cells: np.ndarray  # int32[P, 2] initial storage cell of each pod (pod id = index)
    slot_sku: np.ndarray  # int32[P, K] SKU in each slot, -1 for an empty slot
    slot_units: np.ndarray  # int32[P, K] units in each slot
    empty_mass_kg: float
    max_gross_mass_kg: float
    capacity_units: int

    @property
    def count(self) -> int:
        return int(self.home_cells.shape[0])

    def initial_units(self) -> int:
        return int(self.slot_units.sum())


@dataclass(frozen=True, kw_only=True)
class Scene:
    source: str
    spec: SceneFile
    name: str
    seed: int
    run_s: float
    cell_size_m: float
    grid: np.ndarray  # uint8[H, W] CellCode
    units: tuple[DriveUnitDef, ...]
    stations: tuple[StationDef, ...]
    dock_cells: tuple[Cell, ...]
    charge_cells: tuple[Cell, ...]
    skus: SkuTable
    pods: PodTable
    step_s: float  # duration of one drive-unit action step
    # What the scene was built from (the file's table with overrides applied, and where relative
    # paths in it start), so another process can rebuild the same scene without reading the file.
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    base_dir: str = "."
    text: str = field(default="", repr=False, compare=False)  # the file as read, for the run store

    def as_data(self) -> dict:
        """Plain data (JSON-able) from which `fctwin.sim.scene.scene_from_data` rebuilds this scene."""
        return {"raw": self.raw, "source": self.source, "base_dir": self.base_dir}

    @property
    def shape(self) -> tuple[int, int]:
        return self.grid.shape  # type: ignore[return-value]

    def count(self, code: CellCode) -> int:
        return int((self.grid == code).sum())

    def summary(self) -> dict[str, object]:
        h, w = self.shape
        return {
            "name": self.name,
            "file": self.source,
            "layout": f"{h} x {w} cells of {self.cell_size_m:g} m",
            "storage cells": self.count(CellCode.STORAGE),
            "drive units": len(self.units),
            "external units": sum(u.external for u in self.units),
            "pods": self.pods.count,
            "units in stock": self.pods.initial_units(),
            "pick stations": sum(s.kind == "pick" for s in self.stations),
            "stow stations": sum(s.kind == "stow" for s in self.stations),
            "docks": len(self.dock_cells),
            "charging pads": len(self.charge_cells),
            "SKUs": self.skus.count,
            "orders per hour": self.spec.orders.rate_per_h,
            "step (s)": self.step_s,
            "run (h)": self.spec.run_hours,
            "seed": self.seed,
            "planner": self.spec.dispatch.planner,
        }
