"""What a unit can sense of the floor around it, as an interface.

A simulated unit asks the fleet host; a hardware unit reads its own sensors (fiducials, pod
barcodes). Cell codes are those of the scene layout: 0 aisle, 1 wall, 2 storage, 3 pick,
4 stow, 5 dock, 6 charge, 7 park.
"""

from __future__ import annotations

from typing import Protocol

Cell = tuple[int, int]  # row, col

AISLE, WALL, STORAGE, PICK, STOW, DOCK, CHARGE, PARK = range(8)


class FloorView(Protocol):
    def code(self, cell: Cell) -> int:
        """Cell code at ``cell`` (WALL outside the floor)."""

    def pod_at(self, cell: Cell) -> int:
        """Id of the pod standing (not carried) on ``cell``, or -1."""

    def pod_mass_kg(self, pod_id: int) -> float:
        """Gross mass of a pod (structure plus contents)."""

    def carrier_at(self, cell: Cell) -> tuple[str, int]:
        """(unit id, pod id) of a drive unit holding a pod on ``cell``, or ("", -1)."""


def may_enter(floor: FloorView, cell: Cell, *, loaded: bool) -> bool:
    """A unit may enter any non-wall cell; a loaded unit not a cell where a pod stands."""
    code = floor.code(cell)
    if code in (WALL, DOCK):
        return False
    return not (loaded and code == STORAGE and floor.pod_at(cell) >= 0)
