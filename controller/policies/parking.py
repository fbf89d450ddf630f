"""Idle parking: where a unit with nothing to do waits (RAWSim-O: rest locations of the bot managers)."""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from fctwin.controller.policies.base import Policy
from fctwin.controller.records import Cell, UnitRec

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


def nearest_free_pod_cell(d: Dispatcher, r0: int, c0: int, taken, busy) -> Cell | None:
    """Nearest (Manhattan) storage cell holding a pod that is neither taken nor busy.

    Ties go to the first in row-major order. Vectorised over all storage cells: a Python scan
    cost ~1 ms per idle unit on fc_large's 6,000 storage cells.
    """
    rows, cols = d._storage_rows, d._storage_cols
    ok = d.pods_mask[rows, cols]
    slot = d._storage_slot
    for cell in (*taken, *busy):
        k = slot.get(cell)
        if k is not None:
            ok[k] = False
    if not ok.any():
        return None
    dd = np.abs(rows - r0) + np.abs(cols - c0)
    dd[~ok] = np.iinfo(dd.dtype).max
    k = int(np.argmin(dd))
    return (int(rows[k]), int(cols[k]))


class Parking(Policy):
    """Chooses where an idle unit waits.

    Asked every tick for every unit with no trip and no pad to go to (the hot path: keep it cheap
    when the answer does not change). ``taken`` maps cells claimed as parking spots this tick to
    the claiming unit's index; ``busy`` holds the cells of pods on a trip. Returns the cell to wait
    on (it becomes ``u.park`` and the unit's goal), or None to wait where it stands. May add its
    own claim to ``taken`` (only that); must not mutate anything else.
    """

    family = "parking"

    @abstractmethod
    def park(
        self, d: Dispatcher, i: int, u: UnitRec, taken: dict[Cell, int], busy: set[Cell]
    ) -> Cell | None: ...


class UnderPod(Parking):
    """Under a stored pod, out of the aisles: keep the current spot while its pod is there and not
    wanted, else stay under the pod the unit stands below, else the nearest free one. The default."""

    def park(self, d, i, u, taken, busy):
        pods = d.pods_mask
        if u.park is not None and pods[u.park] and u.park not in busy:
            return u.park
        if pods[u.cell] and taken.get(u.cell, i) == i and u.cell not in busy:
            taken[u.cell] = i
            return u.cell
        return nearest_free_pod_cell(d, int(d.pos[i, 0]), int(d.pos[i, 1]), taken, busy)


class InPlace(Parking):
    """Wait where the unit stands (the planner moves it aside when in the way): the naive baseline."""

    def park(self, d, i, u, taken, busy):
        return None
