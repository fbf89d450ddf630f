"""The drive-unit planner interface: one lifelong planning step, array in, array out.

Every step the dispatcher hands the planner the whole fleet as arrays and gets back one action per
unit (the LoRR / MAPF_T action model: F forward, R clockwise, C counter-clockwise, W wait).
Planners may keep internal state between steps (reservations, windows, guidance) but must accept
any change of goals, of the passable maps (cells closed at run time) and of the active mask between
calls.

Array conventions (all numpy, C-contiguous):

- ``passable_unloaded``: ``bool[H, W]``, True where an unloaded unit may stand (aisles *and* storage
  cells: an unloaded unit passes under stored pods).
- ``passable_loaded``: ``bool[H, W]``, True where a unit carrying a pod may stand (aisles, stations,
  docks, ... but not storage cells holding a pod; the unit's own goal storage cell is made passable
  by the dispatcher when it returns a pod).
- ``pos``: ``int32[N, 2]`` cells as (row, col).
- ``heading``: ``int8[N]``, 0 east, 1 south, 2 west, 3 north.
- ``goal``: ``int32[N, 2]``; (-1, -1) means no goal (the unit should stay out of the way).
- ``loaded``: ``bool[N]``.
- ``active``: ``bool[N]``; False for units that cannot move this step (failed, stopped, lifting,
  being served): the planner must treat them as obstacles and emit W for them.
- ``out_actions``: ``int8[N]`` written by the planner.

Guarantee required of every planner: applying ``out_actions`` produces no vertex conflict, no edge
(swap) conflict and no move into a cell that is not passable for that unit's load state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass
class FleetArrays:
    """The fleet as the planner sees it at one step (see the module docstring for shapes)."""

    pos: np.ndarray
    heading: np.ndarray
    goal: np.ndarray
    loaded: np.ndarray
    active: np.ndarray

    @property
    def n(self) -> int:
        return int(self.pos.shape[0])


@dataclass
class GridMaps:
    """Passability of the floor for unloaded and loaded units (``bool[H, W]`` each)."""

    passable_unloaded: np.ndarray
    passable_loaded: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.passable_unloaded.shape  # type: ignore[return-value]


@runtime_checkable
class Planner(Protocol):
    """A lifelong one-step planner."""

    name: str

    def reset(self, grid: GridMaps, n_agents: int, *, seed: int = 0) -> None:
        """Prepare for a run on this grid with this many units."""

    def step(self, grid: GridMaps, fleet: FleetArrays, out_actions: np.ndarray) -> None:
        """Write one action per unit into ``out_actions`` (``int8[N]``)."""
