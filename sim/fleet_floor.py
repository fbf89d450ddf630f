"""The floor's physical truth as the fleet host keeps it: the grid, where each pod rests, what each holds.

`SimFloor` is the `fctwin.robots.floor.FloorView` the simulated units read (a unit asks it what is
under it, how heavy a pod is, who carries what); the fleet host writes it as pods move and items are
picked and stowed.
"""

from __future__ import annotations

from fctwin.robots.floor import WALL
from fctwin.sim.scene import Scene

Cell = tuple[int, int]  # (row, col)


class SimFloor:
    """`fctwin.robots.floor.FloorView` over the scene grid, with live pod positions and contents."""

    def __init__(self, scene: Scene):
        self.grid = scene.grid
        self.height, self.width = scene.grid.shape
        # Rows of plain ints: a unit's every forward move asks `code`, and indexing the numpy grid
        # (and converting its scalar) cost several times a list lookup.
        self._codes: list[list[int]] = scene.grid.tolist()
        self.pod_cell: dict[int, Cell] = {p: tuple(map(int, c)) for p, c in enumerate(scene.pods.home_cells)}
        self.pods: dict[Cell, int] = {c: p for p, c in self.pod_cell.items()}
        self.empty_mass_kg = scene.pods.empty_mass_kg
        self.sku_mass_kg = scene.skus.mass_kg
        self.contents: list[dict[int, int]] = []
        for p in range(scene.pods.count):
            d: dict[int, int] = {}
            for s, u in zip(scene.pods.slot_sku[p], scene.pods.slot_units[p], strict=True):
                if s >= 0 and u > 0:
                    d[int(s)] = d.get(int(s), 0) + int(u)
            self.contents.append(d)
        self.carried: dict[Cell, tuple[str, int]] = {}  # refreshed every tick

    def code(self, cell: Cell) -> int:
        r, c = cell
        if 0 <= r < self.height and 0 <= c < self.width:
            return self._codes[r][c]
        return WALL

    def pod_at(self, cell: Cell) -> int:
        return self.pods.get(tuple(cell), -1)

    def pod_mass_kg(self, pod_id: int) -> float:
        return self.empty_mass_kg + sum(
            u * float(self.sku_mass_kg[s]) for s, u in self.contents[pod_id].items()
        )

    def carrier_at(self, cell: Cell) -> tuple[str, int]:
        return self.carried.get(tuple(cell), ("", -1))

    def stored_units(self) -> int:
        return sum(sum(c.values()) for c in self.contents)
