"""Lifelong PIBT for the 4-connected grid action model (no headings): `GridPIBTPlanner`.

Each step a unit moves to one of its four neighbours or waits. This is the model RHCR's published
``kiva.map`` figures were measured in (Li, Tinka, Kiesel, Durham, Kumar, Koenig, "Lifelong
multi-agent path finding in large-scale warehouses", AAAI 2021: ``driver.cpp`` declares
``("rotation", po::value<bool>()->default_value(false), "consider rotation")``), so it is the
like-for-like comparison for the benchmark; the fleet itself drives under the rotation model of
`fctwin.controller.planning.pibt`.

The planner is PIBT (Okumura, Machida, Defago, Tamura, "Priority inheritance with backtracking for
iterative multi-agent path finding", AIJ 2022) with the lifelong details of `PIBTPlanner`, whose
input preparation it shares: priorities grow with the steps since a unit's goal was set or last
reached (ties by a fixed random fraction), a lower-priority unit in the way is pushed aside by
priority inheritance, a pushed unit that finds no cell makes its pusher backtrack, equal costs are
broken at random, waiting gets dearer after ``stall_div`` steps without progress, and optional
guidance (`fctwin.controller.planning.guidance`) makes moves against a one-way street dearer in the
distance tables. On an undirected graph where every pair of adjacent cells lies on a cycle PIBT
lets the top-priority unit reach its goal, and since a unit that has waited longest gets the top
priority, every unit keeps reaching goals in lifelong operation (Okumura et al.); kiva.map is such a
graph. The guidance costs and the stall penalty change the ranking but not this argument (the top
unit still strictly decreases its guided distance); a dense lifelong test checks it. Differences
from the rotation model: plain cell distance tables (one entry per cell), no rotation conversion (a
planned move is executed as planned), no swap/pull option, and ties between equal costs go first
to a cell nobody stands on (pibt2's lifelong tie-break).

Actions (``int8``): 0 right (col + 1), 1 down (row + 1), 2 left (col - 1), 3 up (row - 1), 4 wait;
that is, the heading of the move as in the rotation model (0 E, 1 S, 2 W, 3 N), and 4 for waiting.
Checked by `fctwin.controller.planning.validate.check_grid_step`.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.planning._grid_kernels import GRID_WAIT, grid_pibt_step_kernel
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.pibt import PIBTPlanner

__all__ = ["GRID_ACTION_LETTERS", "GRID_WAIT", "GridPIBTPlanner"]

GRID_ACTION_LETTERS = "RDLUW"  # action code -> letter in result files (right, down, left, up, wait)


class GridPIBTPlanner(PIBTPlanner):
    """PIBT for the 4-connected model (see the module docstring); options as `PIBTPlanner`.

    ``heading_tables`` and ``swap`` do not apply to this model and raise ValueError when set.
    ``FleetArrays.heading`` is ignored.
    """

    name = "pibt_grid"
    action_model = "grid"

    def __init__(self, *, heading_tables: bool = False, swap: bool = False, **options) -> None:
        if heading_tables or swap:
            raise ValueError("the grid model has no headings and no swap option")
        super().__init__(**options)

    def _kernel_key(self) -> str:
        return "grid"

    def _warm_up_options(self) -> dict[str, object]:
        return {
            "guidance": self.guidance,
            "guidance_penalty": self.guidance_penalty,
            "push_penalty": self.push_penalty,
            "stall_div": self.stall_div,
        }

    def prepare_step(self, grid: GridMaps, fleet: FleetArrays) -> dict[str, object]:
        """Inputs of `grid_pibt_step_kernel` (and of `reference_grid_step`), priorities updated."""
        k = super().prepare_step(grid, fleet)
        for key in ("heading", "use_swap"):
            del k[key]
        return k

    def _run_kernel(self, k: dict[str, object], out_actions: np.ndarray) -> None:
        """`grid_pibt_step_kernel`: ``out_actions`` ``int8[N]``, 0 R, 1 D, 2 L, 3 U, 4 W."""
        scratch = (self.occ_now, self.occ_next, self.next_lin, self.cand, self.ncand, self.cidx, self.stack)
        grid_pibt_step_kernel(*k.values(), *scratch, out_actions)
