"""Lifelong drive-unit planner: PIBT with rotation-aware ranking, numba kernels behind `PIBTPlanner`.

Choice (issue 3)
----------------
The planner runs every step for the whole fleet, so it must stay within a few milliseconds for
10,000 units on one core, never produce a conflict, and never deadlock in lifelong operation. We
combine:

- **PIBT** (Okumura, Machida, Defago, Tamura, "Priority inheritance with backtracking for iterative
  multi-agent path finding", AIJ 2022): one step for all units in O(N) time; priorities grow with the
  time since a unit last reached a goal, so the longest-waiting unit gets its best cell, and a unit
  with lower priority (or no goal) in its way is pushed aside by priority inheritance. On undirected
  graphs where adjacent cells lie on a cycle this guarantees lifelong progress; with rotations there
  is no proof, so progress is checked by a dense lifelong test instead.
- **Rotation-aware conversion** as in the LoRR start kit and WPPL (Jiang, Zhang, Veerapaneni, Li,
  "Scaling lifelong multi-agent path finding to more realistic settings", SoCS 2024; LoRR 2023
  winner): PIBT picks next *cells* ranked by rotations-to-face + move cost + distance, a unit facing
  its next cell moves F, one that is not turns towards it (R/C) and keeps its cell, and units that
  planned to enter a kept cell wait (a chain resolved in O(N)). Staying costs one step more than the
  best move, so a unit facing away from its route turns instead of idling.
- **Highway guidance** (`fctwin.controller.planning.guidance`), the fixed-direction form of traffic-flow
  guidance (Chen, Harabor, Li, Stuckey, "Traffic flow optimisation for lifelong multi-agent path
  finding", AAAI 2024; RHCR's highways, Li et al., AAAI 2021): aisles become one-way by cost, which
  removes most head-on meetings; it doubled MR24-WAREHOUSE throughput. ``guidance="highways+grid"``
  also makes the rows and columns that cross open floor alternating one-way streets (RHCR's
  ``kiva.map``: 3.54 instead of 2.77 tasks per step at 140 agents).
- **Exact heuristics, lazily**: reverse BFS/Dial tables per goal and load class, computed on demand,
  budgeted and recycled LRU (`fctwin.controller.planning.distance`), instead of the start kit's all-pairs
  tables (15.8 GB on warehouse_large). Laid out in 8 x 8 cell tiles, and read for all units in one
  pass before the search (`near_distances`): the step is bound by cache misses on ~10,000 tables.
- **Rotation-aware tables** (``heading_tables=True``, the kiva preset): one entry per (cell,
  heading), turns counted, so a move is ranked by the exact remaining steps of the F/R/C/W model
  rather than by cell distance plus the first turn only. Five times the memory, so not for
  warehouse_large. On kiva.map it raised 140 agents from 3.54 to 3.65 tasks per step and 220
  from 4.45 to 4.67; a lone robot needs 26.7 instead of 27.4 steps per task without guidance
  (free-flow bound 25.9).
- **Stall penalty** (``stall_div``): after ``stall_div`` steps without progress waiting costs one
  step more, and so on. Without it a top-priority unit whose only way on led through a loaded unit
  that could only leave through the first unit's own cell (a storage pocket) waited for ever, and
  the fc_small fleet gridlocked after about two simulated hours.
- **Options** `swap=True` (PIBT swap/pull in corridors, Okumura, "Engineering LaCAM*", AAMAS 2024)
  and `push_penalty=1` (a pushed unit prefers stepping aside): together they make one-shot instances
  complete where plain PIBT livelocks, but they cost lifelong throughput, so they are off by default.

- **Operations** (option ``operation_steps=3``, `fctwin.controller.planning._epibt_kernels`): PIBT over
  3-action operations (R F F, F F W, ...) with their cells reserved over the next three steps, as
  EPIBT (the LoRR 2024 winner): a unit that must turn no longer reserves a cell it will not enter
  this step. It removes most of the waits on MR24-WAREHOUSE (12% W instead of 27-32%) at ~60-150 ms
  per step instead of ~10 ms, and loses 1-2% on kiva.map up to 140 robots, so it is an option.
  Swap, push-aside and the stall penalty do not apply to it.

- **LNS refinement** (option ``lns_iterations`` with operations, `fctwin.controller.planning._lns_kernels`):
  large neighbourhood search over the chosen operations, as WPPL and EPIBT + LNS refine PIBT's
  plan in the rest of the step budget: a few units re-plan together and keep the result if their
  total cost fell; bounded by a count of iterations.

Not included in this version: optimised, rather than fixed, guidance graphs; see docs/planner.md
for the measurements behind these choices.

Guarantees (tested with `fctwin.controller.planning.validate`): no vertex conflict, no swap, no move into a
cell impassable for the unit's load state, inactive units wait and are obstacles, map changes are
respected from the next step (closed aisles immediately; tables made stale by pod moves within
``refresh_steps``, routing only, never safety).
"""

from __future__ import annotations

import time

import numpy as np

from fctwin.controller.planning._epibt_kernels import epibt_step_kernel, make_operations, operation_lateness
from fctwin.controller.planning._kernels import pibt_step_kernel, prepare_kernel
from fctwin.controller.planning._lns_kernels import KEY_PER_STEP, lns_refine_kernel, rank_all
from fctwin.controller.planning.base import FleetArrays, GridMaps
from fctwin.controller.planning.crowding import crowded_units
from fctwin.controller.planning.distance import DistanceTables
from fctwin.controller.planning.guidance import (
    band_move_costs,
    grid_highway_move_costs,
    highway_move_costs,
    open_street_move_costs,
)

__all__ = ["PIBTPlanner"]

_WARMED_UP: set[str] = set()  # step kernels loaded in this process (see `PIBTPlanner._kernel_key`)
# kernel inputs (from `PIBTPlanner.prepare_step`) of the operation kernel
_OPERATION_INPUTS = (
    "H", "W", "pos_lin", "heading", "goal_slot", "loaded", "active", "pass_u", "pass_l", "cell_index",
    "tables", "move_cost", "order", "tie",
)  # fmt: skip
# guidance presets: "highways" (one-way aisles), "highways+grid" (plus alternating one-way rows and
# columns in open areas, RHCR style; for kiva.map), "highways+open" (streets only on floor the aisle
# rule leaves open), "highways+bands" (open bands one step dearer), "none"
# How far past a unit's reads a bounded unloaded table is searched (distance units; see
# `DistanceTables`): room to be pushed aside before the table must be searched again.
BOUNDED_MARGIN = 16
GUIDANCE = {
    "highways": highway_move_costs,
    "highways+grid": grid_highway_move_costs,
    "highways+open": open_street_move_costs,
    "highways+bands": band_move_costs,
    "none": None,
}


class PIBTPlanner:
    """PIBT planner for the F/R/C/W action model (see the module docstring).

    Parameters
    ----------
    max_tables:
        Bound on cached distance tables (each ``2 * n_passable_cells`` bytes); it must be at least
        the number of distinct goals in one step. Default: as many as fit ``table_budget_bytes``,
        and never fewer than ``1.25 * n_agents + 64``. Tables are allocated only as goals appear.
    heading_tables:
        Rotation-aware distance tables (steps from each cell *and heading*, turns included), five
        times the memory per table. Ranks moves by the exact remaining steps of the rotation model,
        so guidance detours are priced with their turns. Used by the kiva preset; off for
        warehouse_large, whose 24,768 errand tables would need 9.6 GB.
    operation_steps:
        0 (default): plain PIBT over next cells. K > 0: PIBT over K-action operations (see
        `fctwin.controller.planning._epibt_kernels`; 3 is the tested setting). ``operation_budget``
        (operations tried per root unit before the units below it give up), ``operation_depth``
        (longest priority-inheritance chain) and ``operation_keep`` (steps of hysteresis for
        going on with last step's operation) tune it. ``operation_step_budget`` (default 500,000;
        0 = none) bounds the operations tried per step over all units: a counted, not timed, bound
        on a step's work (after it runs out, the remaining units take their best operation that
        pushes nobody), so the actions depend only on the inputs, never on how loaded the machine
        is. On MR24-WAREHOUSE the median step tries ~56,000 operations and one step in 1,000 over
        660,000 (2.1 million at most, 1.6 s at load 5): the default cuts only those rare jam searches.
        ``last_work`` holds the last step's [operations tried, units planned after the bound ran out].
    lns_iterations:
        With operations: after the operation planner, this many iterations of large neighbourhood
        search refine its operations (`fctwin.controller.planning._lns_kernels`: a few units re-plan
        their operations together, kept if their total cost falls). A counted bound, like
        ``operation_step_budget``. 0 (default): off. ``lns_size`` units at most per neighbourhood.
        ``lns_respect_priority`` (default True): a unit of higher priority than the neighbourhood's
        seed never ends worse off (PIBT's rule); False lets the total cost decide alone.
        ``lns_priority_slack`` (steps, default 0) relaxes the rule by a bound: such a unit may end
        at most that many steps of cost worse off: by default in each neighbourhood (so a unit may
        lose it more than once a step); ``lns_slack_per_step=True`` measures it from the unit's
        operation when the step's refinement began, so a unit loses at most the slack per step.
        ``lns_strict_age`` (steps, default 0: off): a unit whose goal was set (or last reached) at
        least that many steps ago gets no slack, so LNS never delays the longest-waiting units.
        ``lns_crowd_radius`` (cells, default 0: off) and ``lns_crowd_share`` (default 0.5): a unit
        where at least that share of the passable cells within the radius hold units (a crowd, e.g.
        a queue at an emitter; `fctwin.controller.planning.crowding`) gets ``lns_crowd_slack``
        (steps, default 0: none) instead of ``lns_priority_slack``.
        ``last_lns`` holds the last step's [iterations run, neighbourhoods accepted].
    bounded_tables:
        True (default): a new distance table (a unit driving to a pod, a parking spot, a pad, a
        storage cell) is searched only as far as the unit reads it, plus ``BOUNDED_MARGIN``, and extended
        when it moves beyond (`DistanceTables`'s ``bounded_margin``). The same actions as complete
        tables (plain PIBT reads a table at a unit's cell and its neighbours only); off by itself
        with swap, rotation-aware tables and operations, which read further. False: complete tables.
    """

    name = "pibt"

    def __init__(
        self,
        *,
        max_tables: int | None = None,
        table_budget_bytes: float = 2e9,
        guidance: str = "highways",
        guidance_penalty: int = 4,
        swap: bool = False,
        push_penalty: int = 0,
        stall_div: int = 10,
        heading_tables: bool = False,
        operation_steps: int = 0,
        operation_budget: int = 100_000,
        operation_depth: int = 64,
        operation_keep: int = 1,
        operation_step_budget: int = 500_000,
        lns_iterations: int = 0,
        lns_size: int = 8,
        lns_respect_priority: bool = True,
        lns_priority_slack: int = 0,
        lns_slack_per_step: bool = False,
        lns_strict_age: int = 0,
        lns_crowd_radius: int = 0,
        lns_crowd_share: float = 0.5,
        lns_crowd_slack: int = 0,
        bounded_tables: bool = True,
    ) -> None:
        # operation_steps K > 0: plan K-action operations per unit (`_epibt_kernels`)
        # instead of single cells; budget and depth bound the backtracking per root unit
        self.operation_steps = int(operation_steps)
        self.operation_budget = int(operation_budget)
        self.operation_depth = int(operation_depth)
        self.operation_keep = int(operation_keep)  # hysteresis, see `_epibt_kernels.rank_operations`
        if int(operation_step_budget) < 0:
            raise ValueError(f"operation_step_budget must be >= 0 (0: no limit), not {operation_step_budget}")
        self.operation_step_budget = int(operation_step_budget)
        self.last_work = np.zeros(2, np.int64)  # last step: operations tried, units cut by the step bound
        if int(lns_iterations) < 0 or int(lns_size) < 1:
            raise ValueError(f"need lns_iterations >= 0 and lns_size >= 1, not {lns_iterations}, {lns_size}")
        self.lns_iterations = int(lns_iterations)
        self.lns_size = int(lns_size)
        self.lns_respect_priority = bool(lns_respect_priority)
        if int(lns_priority_slack) < 0:
            raise ValueError(f"lns_priority_slack must be >= 0 (steps), not {lns_priority_slack}")
        self.lns_priority_slack = int(lns_priority_slack)
        self.lns_slack_per_step = bool(lns_slack_per_step)
        if int(lns_strict_age) < 0:
            raise ValueError(f"lns_strict_age must be >= 0 (steps; 0: off), not {lns_strict_age}")
        self.lns_strict_age = int(lns_strict_age)
        if int(lns_crowd_radius) < 0 or not 0.0 < float(lns_crowd_share) <= 1.0:
            raise ValueError(
                f"need lns_crowd_radius >= 0 (cells; 0: off) and 0 < lns_crowd_share <= 1, "
                f"not {lns_crowd_radius}, {lns_crowd_share}"
            )
        self.lns_crowd_radius = int(lns_crowd_radius)
        self.lns_crowd_share = float(lns_crowd_share)
        if int(lns_crowd_slack) < 0:
            raise ValueError(f"lns_crowd_slack must be >= 0 (steps), not {lns_crowd_slack}")
        self.lns_crowd_slack = int(lns_crowd_slack)
        self.last_lns = np.zeros(2, np.int64)  # last step: LNS iterations run, neighbourhoods accepted
        self.ops = make_operations(self.operation_steps) if self.operation_steps > 0 else None
        self.op_lateness = operation_lateness(self.ops) if self.ops is not None else None
        self.stall_div = int(stall_div)
        self.heading_tables = bool(heading_tables)
        self.swap = bool(swap)
        self.push_penalty = int(push_penalty)
        if guidance not in GUIDANCE:
            raise ValueError(f"guidance must be one of {sorted(GUIDANCE)}")
        self.guidance = guidance
        self.guidance_penalty = int(guidance_penalty)
        # Tables searched only as far as their units read them (`DistanceTables`'s
        # ``bounded_margin``): exact for plain PIBT, which reads a table at a unit's cell and its
        # neighbours only; swap, operations and LNS read further, so they keep complete tables.
        self.bounded_tables = bool(bounded_tables) and not (swap or heading_tables or self.operation_steps)
        self._max_tables_arg = max_tables
        self.table_budget_bytes = table_budget_bytes
        self.tables: DistanceTables | None = None
        self.step_count = 0

    # -------------------------------------------------------------------------------------
    def reset(self, grid: GridMaps, n_agents: int, *, seed: int = 0) -> None:
        """Prepare for a run on ``grid`` with ``n_agents`` units (allocates all scratch arrays)."""
        H, W = grid.shape
        n_cells = int((grid.passable_unloaded | grid.passable_loaded).sum())
        # keep every goal's table while they fit the memory budget (LoRR warehouse_large has 24,768
        # distinct errand cells: 1.9 GB), and at least one table per unit plus slack
        entries = 5 if self.heading_tables else 1  # rotation-aware tables: 5 entries per cell
        by_budget = int(self.table_budget_bytes // max(2 * entries * n_cells, 1))
        # ... but never more than there are distinct (goal cell, load class) keys
        max_tables = self._max_tables_arg or min(max(int(1.25 * n_agents) + 64, by_budget), 2 * n_cells + 1)
        self.H, self.W = int(H), int(W)
        move_cost = self._guidance_costs(grid.passable_loaded)
        self.tables = DistanceTables(
            grid.passable_unloaded,
            grid.passable_loaded,
            max_tables=max_tables,
            move_cost=move_cost,
            headings=self.heading_tables,
            bounded_margin=BOUNDED_MARGIN if self.bounded_tables else None,
        )
        # kept for `set_move_cost_overlay` (traffic rules set at run time)
        self._reset_maps = (grid.passable_unloaded.copy(), grid.passable_loaded.copy(), max_tables)
        self._base_move_cost = move_cost
        self.rng = np.random.default_rng(seed)
        self.step_count = 0
        self._alloc(n_agents)
        self._warm_up()

    def set_move_cost_overlay(self, extra: np.ndarray | None) -> None:
        """Add ``extra`` (``uint8[H, W, 4]``, the cost of a forward move per cell and heading) to the
        guidance costs from the next step on (None: back to the reset-time guidance): traffic rules
        such as one-way aisles, set at run time (`fctwin.controller.traffic`). Every distance table
        is rebuilt on the current maps; safety is unchanged (costs shape routes, never passability).
        """
        if self.tables is None:
            raise RuntimeError("call reset() before set_move_cost_overlay()")
        pu, pl, max_tables = self._reset_maps
        base = self._base_move_cost
        cost = None
        if extra is not None:
            base16 = np.ones((self.H, self.W, 4), np.int32) if base is None else base.astype(np.int32)
            cost = np.clip(base16 + np.asarray(extra, np.int32), 1, 250).astype(np.uint8)
        elif base is not None:
            cost = base
        maps = self.tables._maps
        self.tables = DistanceTables(
            pu,
            pl,
            max_tables=max_tables,
            move_cost=cost,
            headings=self.heading_tables,
            bounded_margin=BOUNDED_MARGIN if self.bounded_tables else None,
        )
        # the current (not reset-time) passable maps: closed cells stay closed
        self.tables.sync_maps(maps[0].reshape(self.H, self.W), maps[1].reshape(self.H, self.W))

    def _alloc(self, n: int) -> None:
        hw = self.H * self.W
        self.n = n
        self.occ_now = np.full(hw, -1, np.int32)
        self.occ_next = np.full(hw, -1, np.int32)
        self.next_lin = np.empty(n, np.int32)
        self.cand = np.empty((n, 5), np.int32)
        self.ncand = np.empty(n, np.int32)
        self.cidx = np.empty(n, np.int32)
        self.stack = np.empty(max(n, 1), np.int32)
        self.swap_with = np.empty(max(n, 1), np.int32)
        self.elapsed = np.zeros(n, np.int64)
        self.stall = np.zeros(n, np.int32)
        self.prev_pos = np.full(n, -1, np.int64)
        self.prev_goal = np.full(n, -2, np.int64)
        self.tie_frac = self.rng.random(n)  # also sets tie_order (a property)
        self.rng_state = np.array([int(self.rng.integers(0, 1 << 31))], np.int64)
        self.pos_lin = np.empty(n, np.int32)
        self.goal_lin = np.empty(n, np.int32)
        self.goal_slot = np.empty(n, np.int32)
        self.prio = np.empty(n, np.float64)
        self.order = np.empty(n, np.int32)
        self.tie = np.empty((n, 5), np.int8)
        if self.ops is not None:
            k_steps = self.operation_steps
            self.op_occ = np.full((k_steps + 1, hw), -1, np.int32)
            self.op_path = np.empty((n, k_steps + 1), np.int32)
            self.op_planned = np.zeros(n, np.bool_)
            self.op_sel = np.empty(n, np.int32)
            self.op_ord = np.empty((n, self.ops.shape[0]), np.int32)
            self.op_n = np.empty(n, np.int32)
            self.op_blockers = np.empty((n, k_steps), np.int32)
            self.op_blocker_time = np.empty((n, k_steps), np.int32)
            # last step's operation per unit, and where it should have taken the unit (-1: none)
            self.op_last = np.full(n, -1, np.int32)
            self.op_expect = np.full((3, n), -1, np.int64)  # cell, heading, goal cell
            # per unit: next operation to try, blockers, next blocker, trail mark; trail; failed
            # under which root, and when asked to clear its cell by which time; DFS stack
            self.op_scratch = tuple(np.empty(max(n, 1), np.int32) for _ in range(9))
            if self.lns_iterations > 0:
                size = self.lns_size
                self.lns_key = np.empty((n, self.ops.shape[0]), np.int64)
                self.lns_in_nb = np.zeros(max(n, 1), np.bool_)
                self.lns_prio_pos = np.empty(n, np.int32)
                self.lns_base_key = np.empty(n, np.int64)  # keys when refinement began (slack per step)
                self.lns_slack = np.full(n, KEY_PER_STEP * self.lns_priority_slack, np.int64)  # per unit
                # selrank, cand, members, saved_path, saved_sel, saved_rank, cells (`lns_refine_kernel`)
                self.lns_scratch = (
                    np.empty(max(n, 1), np.int32), np.empty(max(n, 1), np.int32), np.empty(size, np.int32),
                    np.empty((size, k_steps + 1), np.int32), np.empty(size, np.int32),
                    np.empty(size, np.int32), np.empty(k_steps + 1, np.int32),
                )  # fmt: skip
                # one generator seed per run; each step's is derived from it and the step number
                self.lns_seed = int(self.rng.integers(0, 1 << 31))

    def _warm_up(self) -> None:
        """Load (or compile) the kernels once per process, so the first timed step does not pay for it."""
        key = self._kernel_key()
        if key in _WARMED_UP:
            return
        _WARMED_UP.add(key)
        # the same planner type and options on a tiny map: one step loads every kernel a step calls
        # (its reset finds the key set and does not recurse)
        tiny = np.zeros((3, 4), bool)
        tiny[1, :] = True  # one aisle row, so guidance (if on) builds non-uniform costs as in real maps
        tiny[:, 0] = True
        grid = GridMaps(tiny, tiny.copy())
        planner = type(self)(**self._warm_up_options())
        planner.reset(grid, 1)
        one = np.ones(1, bool)
        fleet = FleetArrays(
            np.array([[1, 1]], np.int32), np.zeros(1, np.int8), np.array([[1, 3]], np.int32), ~one, one
        )
        planner.step(grid, fleet, np.empty(1, np.int8))

    def _guidance_costs(self, passable: np.ndarray) -> np.ndarray | None:
        """Move costs ``uint8[H, W, 4]`` of the ``guidance`` preset (None: plain shortest paths)."""
        if GUIDANCE[self.guidance] is None or self.guidance_penalty <= 0:
            return None
        return GUIDANCE[self.guidance](passable, penalty=self.guidance_penalty)

    def _kernel_key(self) -> str:
        """Which step kernel this planner runs (kernels are loaded once per process and key)."""
        if self.ops is not None:
            return "operations+lns" if self.lns_iterations > 0 else "operations"
        return "pibt"

    def _warm_up_options(self) -> dict[str, object]:
        """Constructor options that decide which kernel specialisations a step uses."""
        return {
            "guidance": self.guidance,
            "guidance_penalty": self.guidance_penalty,
            "swap": self.swap,
            "push_penalty": self.push_penalty,
            "stall_div": self.stall_div,
            "heading_tables": self.heading_tables,
            "operation_steps": self.operation_steps,
            "lns_iterations": min(self.lns_iterations, 1),
            "bounded_tables": self.bounded_tables,
        }

    def preload_goals(self, goal_cells: np.ndarray, *, loaded: bool = False) -> int:
        """Compute distance tables for known goal cells (``int[K, 2]`` row, col) ahead of time.

        Optional: tables are otherwise computed the first step a goal is used. Useful when the goal
        set is known (stations, storage cells, LoRR errand cells) and a preprocessing phase is
        allowed. Stops at the table budget; returns the number of tables now held.
        """
        if self.tables is None:
            raise RuntimeError("call reset() before preload_goals()")
        cells = np.unique(np.asarray(goal_cells)[:, 0] * self.W + np.asarray(goal_cells)[:, 1]).astype(
            np.int32
        )
        room = self.tables.max_tables - int((self.tables.slot_key >= 0).sum())
        cells = cells[: max(room, 0)]
        for start in range(0, cells.size, 4096):
            chunk = cells[start : start + 4096]
            self.tables.slots_for(chunk, np.full(chunk.size, loaded), -1)
        return int((self.tables.slot_key >= 0).sum())

    @property
    def tie_frac(self) -> np.ndarray:
        """Fixed random fraction per unit, ``float64[N]`` in [0, 1): breaks ties between equal priorities."""
        return self._tie_frac

    @tie_frac.setter
    def tie_frac(self, value: np.ndarray) -> None:
        self._tie_frac = np.asarray(value, np.float64)
        # units by decreasing tie_frac (stable), so the kernel orders by priority with a counting sort
        self.tie_order = np.argsort(-self._tie_frac, kind="stable").astype(np.int32)

    # -------------------------------------------------------------------------------------
    def prepare_step(self, grid: GridMaps, fleet: FleetArrays) -> dict[str, object]:
        """Validate inputs, update priorities and distance tables, return the kernel's inputs.

        Raises ValueError on wrong shapes or units outside the grid. Exposed so tests can feed the
        very same inputs to `fctwin.controller.planning.reference.reference_step`.
        """
        if self.tables is None:
            raise RuntimeError("call reset() before step()")
        if grid.shape != (self.H, self.W):
            raise ValueError(f"grid shape {grid.shape} differs from reset shape {(self.H, self.W)}")
        n = fleet.n
        if n != self.n:
            self._alloc(n)
        pos = np.ascontiguousarray(fleet.pos, np.int32)
        goal = np.ascontiguousarray(fleet.goal, np.int32)
        if pos.shape != (n, 2) or goal.shape != (n, 2):
            raise ValueError("pos and goal must be int[N, 2]")
        loaded = np.ascontiguousarray(fleet.loaded, bool)
        active = np.ascontiguousarray(fleet.active, bool)
        heading = np.ascontiguousarray(fleet.heading, np.int8)
        pass_u = np.ascontiguousarray(grid.passable_unloaded, bool).ravel()
        pass_l = np.ascontiguousarray(grid.passable_loaded, bool).ravel()
        tables = self.tables
        tables.sync_maps(pass_u, pass_l)
        # one numba pass: cells, table slots, priorities (steps since the goal was set or last
        # reached, + a fixed random fraction), stall counters, order and tie-breaking draws
        need = prepare_kernel(
            self.H, self.W, pos, goal, tables.key_slot, tables.slot_version, tables.slot_built,
            tables.slot_last_used, tables.map_version[1], tables.refresh_steps, self.step_count, loaded,
            self.elapsed, self.stall, self.prev_pos, self.prev_goal, self.tie_frac, self.tie_order,
            self.rng_state, self.pos_lin, self.goal_lin, self.goal_slot, self.prio, self.order, self.tie,
        )  # fmt: skip
        if need < 0:
            raise ValueError("a unit is outside the grid")
        if need > 0:  # new goals (or stale tables): build them
            tables.fill_slots(self.goal_lin, loaded, self.goal_slot, self.step_count, self.pos_lin)
        tables.settle(self.pos_lin, self.goal_slot)  # bounded tables reach every cell read below
        return {
            "H": self.H,
            "W": self.W,
            "pos_lin": self.pos_lin,
            "heading": heading,
            "goal_slot": self.goal_slot,
            "loaded": loaded,
            "active": active,
            "pass_u": pass_u,
            "pass_l": pass_l,
            "cell_index": self.tables.lookup_index,
            "tables": self.tables.tables,
            "move_cost": self.tables.move_cost,
            "order": self.order,
            "tie": self.tie,
            "use_swap": self.swap,
            "push_penalty": self.push_penalty,
            "stall": self.stall,
            "stall_div": self.stall_div,
        }

    def previous_operations(self, heading: np.ndarray) -> np.ndarray:
        """Last step's operation of each unit that executed its first action as planned and kept its
        goal, else -1 (``int32[N]``; call after `prepare_step`). Operation planner only."""
        cell, head, goal = self.op_expect
        same = (cell == self.pos_lin) & (head == heading) & (goal == self.goal_lin)
        return np.where(same, self.op_last, -1).astype(np.int32)

    def remember_operations(self, heading: np.ndarray, out_actions: np.ndarray) -> None:
        """Store the operations just chosen (``op_sel``) and where their first actions lead."""
        self.op_last[:] = self.op_sel
        step = np.array([1, self.W, -1, -self.W], np.int64)[heading.astype(np.int64)]
        self.op_expect[0] = self.pos_lin + np.where(out_actions == 0, step, 0)
        turn = np.where(out_actions == 1, 1, np.where(out_actions == 2, 3, 0))
        self.op_expect[1] = (heading.astype(np.int64) + turn) % 4
        self.op_expect[2] = self.goal_lin

    def step(self, grid: GridMaps, fleet: FleetArrays, out_actions: np.ndarray) -> None:
        """Write one action per unit into ``out_actions`` (``int8[N]``: F=0, R=1, C=2, W=3)."""
        if out_actions.shape != (fleet.n,) or out_actions.dtype != np.int8:
            raise ValueError("out_actions must be int8[N]")
        t0 = time.perf_counter()
        bfs_before = self.tables.bfs_count if self.tables is not None else 0
        k = self.prepare_step(grid, fleet)
        t1 = time.perf_counter()
        self._run_kernel(k, out_actions)
        # timings of the last step, for benchmarks: inputs + distance tables, and the PIBT kernel
        self.last_prepare_s = t1 - t0
        self.last_kernel_s = time.perf_counter() - t1
        self.last_tables_built = self.tables.bfs_count - bfs_before
        self.step_count += 1

    def _refine(self, k: dict[str, object], prev_op: np.ndarray, out_actions: np.ndarray) -> None:
        """LNS refinement of the operations just planned (``op_sel``/``op_path``), in place."""
        rank_all(
            k["H"], k["W"], k["pos_lin"], k["heading"], k["goal_slot"], k["loaded"], k["active"], k["pass_u"],
            k["pass_l"], k["cell_index"], k["tables"], k["move_cost"], k["tie"], self.ops, self.op_lateness,
            prev_op, self.operation_keep, self.op_ord, self.op_n, self.lns_key,
        )  # fmt: skip
        seed = (self.lns_seed + self.step_count * 2654435761) & 0x7FFFFFFF
        selrank, cand, members, saved_path, saved_sel, saved_rank, cells = self.lns_scratch
        prio_pos = self.lns_prio_pos
        if self.lns_respect_priority:  # each unit's place in this step's priority order
            prio_pos[k["order"]] = np.arange(prio_pos.size, dtype=np.int32)
        else:
            prio_pos[:] = -1
        slack = self.lns_slack
        if self.lns_strict_age > 0 or self.lns_crowd_radius > 0:
            slack[:] = KEY_PER_STEP * self.lns_priority_slack
        if self.lns_crowd_radius > 0:  # units in a crowd (queues at the emitters) get their own slack
            passable = (k["pass_u"] | k["pass_l"]).reshape(k["H"], k["W"])
            crowded = crowded_units(k["pos_lin"], passable, self.lns_crowd_radius, self.lns_crowd_share)
            slack[crowded] = KEY_PER_STEP * self.lns_crowd_slack
        if self.lns_strict_age > 0:  # the longest-waiting units get no slack
            slack[self.elapsed >= self.lns_strict_age] = 0
        lns_refine_kernel(
            k["H"], k["W"], k["pos_lin"], k["heading"], k["active"], self.ops, self.op_ord, self.op_n,
            self.lns_key, prio_pos, slack, self.lns_slack_per_step,
            self.lns_base_key, self.lns_iterations,
            self.lns_size, seed, self.op_occ, self.op_path, self.op_sel, selrank, self.lns_in_nb, cand,
            members, saved_path, saved_sel, saved_rank, cells, out_actions, self.last_lns,
        )  # fmt: skip

    def _run_kernel(self, k: dict[str, object], out_actions: np.ndarray) -> None:
        """The step kernel on the inputs of `prepare_step` (PIBT, or PIBT over operations)."""
        if self.ops is not None:
            args = [k[name] for name in _OPERATION_INPUTS]
            prev_op = self.previous_operations(k["heading"])
            cidx, nblk, bpos, mark, trail, failed, fail_time, need_time, stack = self.op_scratch
            scratch = (self.op_occ, self.op_path, self.op_planned, self.op_sel, self.op_ord, self.op_n, cidx)
            scratch += (self.op_blockers, nblk, bpos, mark, trail, failed, fail_time, need_time)
            scratch += (self.op_blocker_time, stack)
            epibt_step_kernel(
                *args, self.ops, self.op_lateness, prev_op, self.operation_keep, self.operation_budget,
                self.operation_depth, self.operation_step_budget, *scratch, out_actions, self.last_work,
            )  # fmt: skip
            if self.lns_iterations > 0:
                self._refine(k, prev_op, out_actions)
            self.remember_operations(k["heading"], out_actions)
        else:
            scratch = (self.occ_now, self.occ_next, self.next_lin, self.cand, self.ncand, self.cidx)
            scratch += (self.stack, self.swap_with)
            pibt_step_kernel(*k.values(), *scratch, out_actions)
