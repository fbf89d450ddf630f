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
to a cell nobody stands on (pibt2's lifelong tie-break). Options of this model only (see the class):
``aisle_penalty``, ``lanes`` (keep right among equal costs), ``flow_weight`` (contraflow-priced
guide fields, `fctwin.controller.planning._flow_kernels`) and ``window`` (windowed prioritized plans
steering the step, `fctwin.controller.planning._window_kernels`).

Actions (``int8``): 0 right (col + 1), 1 down (row + 1), 2 left (col - 1), 3 up (row - 1), 4 wait;
that is, the heading of the move as in the rotation model (0 E, 1 S, 2 W, 3 N), and 4 for waiting.
Checked by `fctwin.controller.planning.validate.check_grid_step`.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.planning._flow_kernels import UNREACHED, advance_paths, flow_field, guide_path
from fctwin.controller.planning._grid_kernels import GRID_WAIT, grid_pibt_step_kernel
from fctwin.controller.planning._window_kernels import window_plans_kernel
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.guidance import grid_highway_move_costs
from fctwin.controller.planning.pibt import PIBTPlanner

__all__ = ["GRID_ACTION_LETTERS", "GRID_WAIT", "GridPIBTPlanner"]

FLOW_LOOK = 8  # cells past its path pointer a unit is looked for (pushed units may skip a few)
GRID_ACTION_LETTERS = "RDLUW"  # action code -> letter in result files (right, down, left, up, wait)


class GridPIBTPlanner(PIBTPlanner):
    """PIBT for the 4-connected model (see the module docstring); options as `PIBTPlanner`, plus:

    aisle_penalty:
        With ``guidance="highways+grid"``: the aisle rule's penalty apart from the streets'
        (``guidance_penalty``); see `fctwin.controller.planning.guidance.grid_highway_move_costs`.
        None (default): the same penalty for both.
    lanes:
        Keep right among equal costs: a unit bound east (west) prefers cells with no free cell south
        (north) of them, a unit bound south (north) cells with no free cell west (east); the preference
        replaces the random tie draw and ranks below the occupied-cell tie-break. Off by default.
    flow_weight:
        0 (default): off. W > 0: a unit that gets a new goal follows its own distance field in which a
        move costs ``W`` more per move planned against it on the other units' guide paths
        (contraflow, `fctwin.controller.planning._flow_kernels`), instead of its goal's table.
    window:
        0 (default): off. w > 0: before each step the units plan, in priority order, paths of up to w
        steps against the space-time reservations of the units before them (windowed prioritized
        planning, as RHCR's windows; `fctwin.controller.planning._window_kernels`); each plan's next
        cell is the unit's first choice in the PIBT step, which still decides every move.

    ``heading_tables`` and ``swap`` do not apply to this model and raise ValueError when set.
    ``FleetArrays.heading`` is ignored.
    """

    name = "pibt_grid"
    action_model = "grid"

    def __init__(
        self,
        *,
        heading_tables: bool = False,
        swap: bool = False,
        aisle_penalty: int | None = None,
        lanes: bool = False,
        flow_weight: int = 0,
        window: int = 0,
        **options,
    ) -> None:
        if heading_tables or swap:
            raise ValueError("the grid model has no headings and no swap option")
        if aisle_penalty is not None and not 0 <= int(aisle_penalty) <= 9:
            raise ValueError(f"aisle_penalty must be in 0..9, not {aisle_penalty}")
        self.aisle_penalty = None if aisle_penalty is None else int(aisle_penalty)
        self.lanes = bool(lanes)
        if int(flow_weight) < 0:
            raise ValueError(f"flow_weight must be >= 0 (0: off), not {flow_weight}")
        self.flow_weight = int(flow_weight)
        if not 0 <= int(window) <= 64:
            raise ValueError(f"window must be in 0..64 steps (0: off), not {window}")
        self.window = int(window)
        super().__init__(**options)

    def _kernel_key(self) -> str:
        return "grid"

    def _guidance_costs(self, passable: np.ndarray) -> np.ndarray | None:
        if self.guidance == "highways+grid" and self.aisle_penalty is not None and self.guidance_penalty > 0:
            return grid_highway_move_costs(
                passable, penalty=self.guidance_penalty, aisle_penalty=self.aisle_penalty
            )
        return super()._guidance_costs(passable)

    def reset(self, grid: GridMaps, n_agents: int, *, seed: int = 0) -> None:
        super().reset(grid, n_agents, seed=seed)
        self._free_pad = None
        if self.flow_weight > 0:
            self._flow_reset(grid, n_agents)
        H, W = grid.shape
        w = max(self.window, 1)
        self.plan_next = np.full(n_agents, -1, np.int32)
        # scratch of `window_plans_kernel` (stamped, so never cleared)
        self._win = (
            np.zeros((w + 1, H * W), np.int32),  # res_id
            np.zeros((w + 1, H * W), np.int64),  # res_stamp
            np.zeros((w + 1, H * W), np.int32),  # g
            np.zeros((w + 1, H * W), np.int64),  # g_stamp
            np.zeros((w + 1, H * W), np.int32),  # parent
            np.zeros((w + 1, H * W), np.int32),  # layer
            np.zeros(w + 1, np.int32),  # layer_n
            np.zeros(2, np.int64),  # stamps
        ) if self.window > 0 else None  # fmt: skip

    def _flow_reset(self, grid: GridMaps, n: int) -> None:
        """Scratch of the contraflow guide fields (see `_flow_kernels`): one field per unit."""
        H, W = grid.shape
        passable = np.asarray(grid.passable_loaded, bool)
        costs = self._guidance_costs(passable)
        self._flow_base = (np.ones((H * W, 4), np.uint8) if costs is None else costs.reshape(H * W, 4)).copy()
        self._flow_pass = passable.ravel().copy()
        self._flow = np.zeros((H * W, 4), np.int32)
        self._flow_tables = np.full((n, H * W), UNREACHED, np.uint16)
        self._flow_goal = np.full(n, -2, np.int32)  # goal each field was built for (-2: none yet)
        self._path_cells = np.zeros((n, H * W), np.int32)
        self._path_dirs = np.zeros((n, H * W), np.int32)
        self._path_len = np.zeros(n, np.int32)
        self._path_ptr = np.zeros(n, np.int32)
        self._flow_index = np.arange(H * W, dtype=np.int32)

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
        if self.lanes:
            self._lane_ties(k["pos_lin"], grid)
        if self.flow_weight > 0:
            self._flow_fields(k)
        if self.window > 0:
            window_plans_kernel(
                k["H"], k["W"], k["pos_lin"], self.goal_lin, k["goal_slot"], k["loaded"], k["active"],
                k["pass_u"], k["pass_l"], k["cell_index"], k["tables"], k["move_cost"], k["order"],
                self.window, *self._win, self.plan_next,
            )  # fmt: skip
        k["plan_next"] = self.plan_next  # last: the kernel's argument after stall_div (-1: no plan)
        return k

    def _flow_fields(self, k: dict[str, object]) -> None:
        """Units with a new goal get a contraflow-priced field (in priority order, each seeing the guide
        paths planned before it); the kernel then reads each unit's own field instead of its goal's table."""
        pos, goal = self.pos_lin, self.goal_lin
        cells, dirs, plen, ptr = self._path_cells, self._path_dirs, self._path_len, self._path_ptr
        changed = advance_paths(pos, goal, self._flow_goal, cells, dirs, plen, ptr, self._flow, FLOW_LOOK)
        if changed:
            for i in self.order[(goal != self._flow_goal)[self.order]].tolist():
                self._flow_goal[i] = goal[i]
                plen[i] = ptr[i] = 0
                if goal[i] < 0:
                    continue
                field = self._flow_tables[i]
                flow_field(
                    self.H, self.W, self._flow_pass, int(goal[i]), self._flow_base, self._flow,
                    self.flow_weight, field,
                )  # fmt: skip
                m = guide_path(
                    self.H, self.W, self._flow_pass, field, int(pos[i]), self._flow_base, self._flow,
                    self.flow_weight, cells[i], dirs[i],
                )  # fmt: skip
                if m > 0:
                    plen[i] = m
                    np.add.at(self._flow, (cells[i, :m], dirs[i, :m]), 1)
        k["goal_slot"] = np.where(goal >= 0, np.arange(self.n, dtype=np.int32), -1).astype(np.int32)
        k["cell_index"] = self._flow_index
        k["tables"] = self._flow_tables
        k["move_cost"] = self._flow_base

    def _lane_ties(self, pos_lin: np.ndarray, grid: GridMaps) -> None:
        """``lanes``: overwrite the random tie draws of the four moves with the keep-right rule.

        A move's tie is 0 if its cell keeps right for the unit's travel (towards its goal; right of
        east is south, of south west, of west north, of north east: the neighbour on that side is
        blocked or off the grid), 2 if it breaks the rule for one travel axis, 3 for both.
        """
        W = self.W
        if self._free_pad is None:  # free cells padded by one blocked cell on every side
            pad = np.zeros((self.H + 2, W + 2), bool)
            pad[1:-1, 1:-1] = np.asarray(grid.passable_loaded, bool)
            self._free_pad = pad
        pad = self._free_pad
        r, c = pos_lin // W, pos_lin % W
        gr, gc = self.goal_lin // W, self.goal_lin % W
        has = (self.goal_lin >= 0)[:, None]
        qr = np.clip(r[:, None] + np.array([0, 1, 0, -1]) + 1, 0, self.H + 1)  # padded row, col of each move
        qc = np.clip(c[:, None] + np.array([1, 0, -1, 0]) + 1, 0, W + 1)
        south_free = pad[np.minimum(qr + 1, self.H + 1), qc]
        north_free = pad[np.maximum(qr - 1, 0), qc]
        west_free = pad[qr, np.maximum(qc - 1, 0)]
        east_free = pad[qr, np.minimum(qc + 1, W + 1)]
        horizontal = ((gc > c)[:, None] & south_free) | ((gc < c)[:, None] & north_free)
        vertical = ((gr > r)[:, None] & west_free) | ((gr < r)[:, None] & east_free)
        bad = has & horizontal
        both = has & horizontal & vertical
        self.tie[:, :4] = np.where(both, 3, np.where(bad | (has & vertical), 2, 0))

    def _run_kernel(self, k: dict[str, object], out_actions: np.ndarray) -> None:
        """`grid_pibt_step_kernel`: ``out_actions`` ``int8[N]``, 0 R, 1 D, 2 L, 3 U, 4 W."""
        scratch = (self.occ_now, self.occ_next, self.next_lin, self.cand, self.ncand, self.cidx, self.stack)
        grid_pibt_step_kernel(*k.values(), *scratch, out_actions)
