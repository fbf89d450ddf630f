"""One-shot drive-unit planner: LaCAM over (cell, heading) configurations, PIBT as successor generator.

Choice (issue 3, one-shot target)
---------------------------------
One-shot MAPF asks every unit to reach its goal and stay. PIBT alone (`fctwin.controller.planning.pibt`)
is greedy and incomplete: on ``warehouse-10-20-10-2-1`` plain PIBT livelocks at 100 agents, and
with swap + push-aside still at 500 agents for some seeds (units at a corridor junction turning back
and forth for ever). We therefore wrap PIBT in **LaCAM** (Okumura, "LaCAM: search-based algorithm
for quick multi-agent pathfinding", AAAI 2023; "Improving LaCAM for scalable eventually optimal
multi-agent pathfinding", IJCAI 2023), which is *complete*: it finds a solution whenever one exists
and reports failure otherwise (given time).

- **High level**: a depth-first search over *configurations* (every unit's state at one step). Each
  high-level node keeps a lazily grown **constraint tree** (low level): a low-level node fixes the
  next states of the first ``d`` units in the node's priority order; its children fix unit ``d + 1``
  to each of its successors (F, R, C, W here). Every visit of a high-level node pops one low-level
  node and asks the configuration generator for a successor configuration that obeys its
  constraints. A configuration seen before is not added again; its node is pushed back onto the
  stack (so a livelock cycle sends the search back into the cycle's nodes, whose constraint trees
  then enumerate *other* successors). Since the constraint trees eventually enumerate every joint
  successor of every reachable configuration and the configuration space is finite, the search is
  complete (Okumura 2023, Thm. 1).
- **Configuration generator**: PIBT (Okumura et al., AIJ 2022). A node's first, unconstrained
  visit uses the lifelong `PIBTPlanner` with the one-shot preset (`pibt_successor`: rotation-aware
  ranking, PIBT swap from "Engineering LaCAM*", Okumura, AAMAS 2024, and push-aside), which alone
  reaches all goals in most runs, so LaCAM returns its rollout unchanged where it works and only
  branches where it livelocks. Constrained visits use PIBT over (cell, heading) states that places
  the constrained units first (`fctwin.controller.planning._lacam_kernels.constrained_pibt_kernel`,
  numba). Completeness needs only that constrained visits obey their constraints: any valid
  successor may be tried first.
- **Rotation model**: an agent state is (cell, heading); successors are F (cell ahead), R, C and W;
  conflicts are on cells (no two units in a cell, no exchange of cells), as the LoRR rules. The PIBT
  heuristic is the exact rotation-model distance to the goal cell (any final heading), one reverse
  BFS over the ``4 * H * W`` states per unit (`state_distance_kernel`, about 1 ms each).
- **Priorities** as in LaCAM: initially the normalised distance to the goal, then +1 per step away
  from the goal and reset to the fractional part on arrival; units are ordered by decreasing priority
  both for PIBT and for the constraint tree.

Not included: LaCAM*'s anytime refinement (rewiring the explored graph for a lower sum of costs;
tried, it found no better solution in 15-20 s on warehouse-10-20-10-2-1) and multi-threading. The
solution is the first one found; see docs/planner.md for figures.

`LaCAMPlanner` implements the `Planner` protocol for one-shot runs: `plan_oneshot` (or the first
`step`) solves from the current fleet state to the goals, later `step` calls replay the plan, and
replan if the fleet is not where the plan says (a step was skipped); if the search runs out of
time it falls back to stepping the PIBT preset. Units without a goal get their current cell as
goal. It requires every unit active and unloaded (one-shot benchmark problems).
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from fctwin.controller.planning._lacam_kernels import constrained_pibt_kernel, state_distance_kernel
from fctwin.controller.planning.base import FleetArrays, GridMaps

__all__ = ["LaCAMPlanner", "LaCAMResult", "pibt_successor", "solve_lacam", "states_to_actions"]

ACT_F, ACT_R, ACT_C, ACT_W = 0, 1, 2, 3


class _LNode:
    """Low-level node: ``who`` must take state ``what`` next, plus the constraints of ``parent``."""

    __slots__ = ("parent", "who", "what", "depth")

    def __init__(self, parent: _LNode | None, who: int, what: int) -> None:
        self.parent = parent
        self.who = who
        self.what = what
        self.depth = 0 if parent is None else parent.depth + 1

    def constraints(self) -> tuple[np.ndarray, np.ndarray]:
        who = np.empty(self.depth, np.int32)
        what = np.empty(self.depth, np.int32)
        node, k = self, self.depth - 1
        while node.parent is not None:  # the root carries no constraint
            who[k] = node.who
            what[k] = node.what
            node = node.parent
            k -= 1
        return who[::-1].copy(), what[::-1].copy()


class _HNode:
    """High-level node: one configuration, its parent, priorities, order and constraint tree."""

    __slots__ = ("config", "parent", "prio", "order", "tree", "g")

    def __init__(self, config: np.ndarray, parent: _HNode | None, at_goal: np.ndarray, init_prio: np.ndarray):
        self.config = config
        self.parent = parent
        self.g = 0 if parent is None else parent.g + 1
        if parent is None:
            self.prio = init_prio.copy()
        else:  # LaCAM's dynamic priorities, akin to PIBT's
            self.prio = np.where(at_goal, parent.prio - np.floor(parent.prio), parent.prio + 1.0)
        self.order = np.argsort(-self.prio, kind="stable").astype(np.int32)
        self.tree: deque[_LNode] = deque([_LNode(None, -1, -1)])


class LaCAMResult:
    """Outcome of `solve_lacam`: ``states`` int32[T + 1, N] (None if not solved), search counts, and
    ``sic``, the sum of each unit's rotation-model distance from its start state (a lower bound on the
    sum of costs under the F/R/C/W model)."""

    def __init__(
        self, states, *, expanded: int, generated: int, invalid: int, revisits: int, time_s: float, sic: int
    ):
        self.states = states
        self.sic = sic  # sum of individual rotation-model distances: a lower bound on the sum of costs
        self.expanded = expanded
        self.generated = generated
        self.invalid = invalid
        self.revisits = revisits
        self.time_s = time_s

    @property
    def solved(self) -> bool:
        return self.states is not None


def solve_lacam(
    passable: np.ndarray,
    start_state: np.ndarray,
    goal_cell: np.ndarray,
    *,
    seed: int = 0,
    time_limit_s: float = 60.0,
    max_expansions: int = 0,
    dist: np.ndarray | None = None,
    first_successor=None,
    max_table_bytes: float = 4e9,
) -> LaCAMResult:
    """LaCAM search from ``start_state`` to any configuration with every unit on its goal cell.

    passable bool[H, W]; start_state int32[N] (``cell * 4 + heading``, cell = row * W + col);
    goal_cell int32[N] linear cells; ``dist`` (optional) uint16[N, H*W*4] rotation-model distances
    (built with `state_distance_kernel` if not given; ValueError if that would exceed
    ``max_table_bytes``); ``first_successor`` (optional) ``config -> next config or None``, used for
    each node's unconstrained visit (e.g. `pibt_successor`; default: the constrained kernel with no
    constraints). ``max_expansions`` (0 = none) bounds the search by a count of node visits, so
    whether and what it finds does not depend on the machine's speed; ``time_limit_s`` is a wall-clock
    safety net on top (a search it stops is not reproducible). Returns a `LaCAMResult`; its ``states`` are
    the configurations step by step, start included. Raises ValueError if a goal is unreachable or
    two units share a start or goal cell.
    """
    t0 = time.perf_counter()
    H, W = passable.shape
    pas = np.ascontiguousarray(passable, bool).ravel()
    start = np.ascontiguousarray(start_state, np.int32)
    goal = np.ascontiguousarray(goal_cell, np.int32)
    N = start.shape[0]
    if np.unique(start >> 2).size != N or np.unique(goal).size != N:
        raise ValueError("units must start on distinct cells and have distinct goal cells")
    if dist is None:
        table_bytes = N * H * W * 8  # uint16[N, 4 H W]
        if table_bytes > max_table_bytes:
            raise ValueError(f"distance tables would take {table_bytes / 1e9:.1f} GB")
        dist = np.empty((N, H * W * 4), np.uint16)
        state_distance_kernel(H, W, pas, goal, dist, np.empty(H * W * 4, np.int32))
    rows = np.arange(N)
    d0 = dist[rows, start].astype(np.float64)
    if (d0 == 65535).any():
        raise ValueError("a goal is unreachable from its unit's start")
    sic = int(d0.sum())
    rng = np.random.default_rng(seed)
    occ_now = np.full(H * W, -1, np.int32)
    occ_next = np.full(H * W, -1, np.int32)
    cand = np.empty((N, 4), np.int32)
    ncand = np.empty(N, np.int32)
    cidx = np.empty(N, np.int32)
    stack = np.empty(N, np.int32)

    root = _HNode(start.copy(), None, None, d0 / (d0.max() + 1.0))
    explored = {start.tobytes(): root}
    open_stack = [root]
    expanded = generated = invalid = revisits = 0
    while open_stack:
        if max_expansions > 0 and expanded >= max_expansions:
            break
        if time.perf_counter() - t0 > time_limit_s:
            break
        node = open_stack[-1]
        config = node.config
        if ((config >> 2) == goal).all():
            path = []
            while node is not None:
                path.append(node.config)
                node = node.parent
            states = np.array(path[::-1], np.int32)
            return LaCAMResult(states, expanded=expanded, generated=generated, invalid=invalid,
                               revisits=revisits, time_s=time.perf_counter() - t0, sic=sic)  # fmt: skip
        if not node.tree:
            open_stack.pop()
            continue
        expanded += 1
        low = node.tree.popleft()
        if low.depth < N:  # grow the constraint tree: next unit in order, each of its successors
            i = int(node.order[low.depth])
            s = int(config[i])
            u, h = s >> 2, s & 3
            succ = [u * 4 + ((h + 1) & 3), u * 4 + ((h + 3) & 3), s]
            r, c = divmod(u, W)
            dr, dc = ((0, 1), (1, 0), (0, -1), (-1, 0))[h]
            if 0 <= r + dr < H and 0 <= c + dc < W and pas[(r + dr) * W + c + dc]:
                succ.append(((r + dr) * W + c + dc) * 4 + h)
            for k in rng.permutation(len(succ)):
                node.tree.append(_LNode(low, i, succ[k]))
        if low.depth == 0 and first_successor is not None:
            nxt = first_successor(config)
            ok = nxt is not None
        else:
            who, what = low.constraints()
            tie = rng.integers(0, 4, (N, 4), dtype=np.int8)
            nxt = np.empty(N, np.int32)
            ok = constrained_pibt_kernel(
                H, W, pas, config, dist, node.order, tie, who, what, occ_now, occ_next, cand, ncand, cidx,
                stack, nxt,
            )  # fmt: skip
        if not ok:
            invalid += 1
            continue
        key = nxt.tobytes()
        known = explored.get(key)
        if known is not None:
            revisits += 1
            open_stack.append(known)
            continue
        generated += 1
        child = _HNode(nxt, node, dist[rows, nxt] == 0, None)
        explored[key] = child
        open_stack.append(child)
    return LaCAMResult(None, expanded=expanded, generated=generated, invalid=invalid, revisits=revisits,
                       time_s=time.perf_counter() - t0, sic=sic)  # fmt: skip


def pibt_successor(passable: np.ndarray, goal_cell: np.ndarray, *, seed: int = 0, **pibt_opts):
    """The lifelong PIBT planner as LaCAM's unconstrained successor generator: ``config -> next config``.

    A `PIBTPlanner` (rotation-aware PIBT, here with the one-shot preset: swap, push-aside, guidance
    penalty 2, unless ``pibt_opts`` says otherwise) plans one step from the configuration; its actions
    give the next configuration. It keeps its own PIBT priorities between calls (steps since each
    unit's goal was set or reached), which only shape its choices: any valid step is a valid
    successor for LaCAM.
    """
    from fctwin.controller.planning.pibt import PIBTPlanner

    opts = {"swap": True, "push_penalty": 1, "guidance_penalty": 2} | pibt_opts
    H, W = passable.shape
    grid = GridMaps(np.ascontiguousarray(passable, bool), np.ascontiguousarray(passable, bool))
    n = goal_cell.shape[0]
    planner = PIBTPlanner(**opts)
    planner.reset(grid, n, seed=seed)
    goal = np.stack([goal_cell // W, goal_cell % W], axis=1).astype(np.int32)
    loaded, active = np.zeros(n, bool), np.ones(n, bool)
    out = np.empty(n, np.int8)
    fwd = np.array([1, W, -1, -W], np.int64)

    def successor(config: np.ndarray) -> np.ndarray:
        cell = (config >> 2).astype(np.int64)
        h = config & 3
        pos = np.stack([cell // W, cell % W], axis=1).astype(np.int32)
        planner.step(grid, FleetArrays(pos, h.astype(np.int8), goal, loaded, active), out)
        cell = np.where(out == ACT_F, cell + fwd[h], cell)
        h = np.where(out == ACT_R, (h + 1) & 3, np.where(out == ACT_C, (h + 3) & 3, h))
        return (cell * 4 + h).astype(np.int32)

    return successor


def states_to_actions(states: np.ndarray) -> np.ndarray:
    """Configurations int32[T + 1, N] (``cell * 4 + heading``) to actions int8[T, N] (F=0 R=1 C=2 W=3)."""
    a, b = states[:-1], states[1:]
    act = np.full(a.shape, ACT_W, np.int8)
    moved = (a >> 2) != (b >> 2)
    dh = ((b & 3) - (a & 3)) % 4
    act[moved] = ACT_F
    act[~moved & (dh == 1)] = ACT_R
    act[~moved & (dh == 3)] = ACT_C
    if (~moved & (dh == 2)).any() or (moved & (dh != 0)).any():
        raise ValueError("consecutive configurations are not one F/R/C/W step apart")
    return act


class LaCAMPlanner:
    """One-shot LaCAM planner behind the `Planner` protocol (see the module docstring).

    Parameters
    ----------
    time_limit_s, max_expansions:
        Search limits per solve: wall-clock seconds (a safety net) and node visits (0 = none; a
        counted bound, so the outcome does not depend on machine load). If no solution is found by
        then ``last_result.solved`` is False and the planner falls back to stepping the
        (incomplete) PIBT one-shot preset.
    generator:
        Successor generator for a node's first (unconstrained) visit: ``"pibt"`` (default) the
        lifelong `PIBTPlanner` with the one-shot preset (`pibt_successor`; ``pibt_opts`` override
        its keyword arguments), ``"state"`` the constrained state-space PIBT kernel used for every
        constrained visit anyway (complete too, but its greedy rollouts are much weaker: it did not
        solve 100 agents of warehouse-10-20-10-2-1 in 60 s, where ``"pibt"`` needs 0.5 s).
    """

    name = "lacam"

    def __init__(
        self, *, time_limit_s: float = 120.0, max_expansions: int = 0, generator: str = "pibt", **pibt_opts
    ) -> None:
        if generator not in ("pibt", "state"):
            raise ValueError("generator must be 'pibt' or 'state'")
        if int(max_expansions) < 0:
            raise ValueError(f"max_expansions must be >= 0 (0: no limit), not {max_expansions}")
        self.time_limit_s = float(time_limit_s)
        self.max_expansions = int(max_expansions)
        self.generator = generator
        self.pibt_opts = pibt_opts
        self.last_result: LaCAMResult | None = None
        self.actions: np.ndarray | None = None

    def reset(self, grid: GridMaps, n_agents: int, *, seed: int = 0) -> None:
        """Forget any plan; ``seed`` drives the search's tie-breaking."""
        self.seed = int(seed)
        self.n = int(n_agents)
        self.actions = None
        self.states: np.ndarray | None = None
        self._fallback = None
        self.t = 0
        self.last_kernel_s = float("nan")
        self.last_tables_built = 0

    def _fleet_state(self, grid: GridMaps, fleet: FleetArrays) -> tuple[np.ndarray, np.ndarray]:
        W = grid.shape[1]
        pos = np.asarray(fleet.pos, np.int64)
        cell = pos[:, 0] * W + pos[:, 1]
        state = (cell * 4 + np.asarray(fleet.heading, np.int64)).astype(np.int32)
        goal = np.asarray(fleet.goal, np.int64)
        goal_cell = np.where(goal[:, 0] >= 0, goal[:, 0] * W + goal[:, 1], cell).astype(np.int32)
        return state, goal_cell

    def plan_oneshot(self, grid: GridMaps, fleet: FleetArrays) -> LaCAMResult:
        """Solve from the fleet's state to its goals; later `step` calls replay the plan."""
        if not np.asarray(fleet.active, bool).all() or np.asarray(fleet.loaded, bool).any():
            raise ValueError("LaCAMPlanner is one-shot only: every unit active and unloaded")
        state, goal_cell = self._fleet_state(grid, fleet)
        passable = np.ascontiguousarray(grid.passable_unloaded, bool)
        first = None
        if self.generator == "pibt":
            first = pibt_successor(passable, goal_cell, seed=self.seed, **self.pibt_opts)
        res = solve_lacam(
            passable, state, goal_cell, seed=self.seed, time_limit_s=self.time_limit_s,
            max_expansions=self.max_expansions, first_successor=first,
        )  # fmt: skip
        self.last_result = res
        self.seed += 1  # a replan explores differently
        self._fallback = None
        if res.solved:
            self.states = res.states
            self.actions = states_to_actions(res.states)
        else:
            # out of time: keep the units moving with the (incomplete) PIBT one-shot preset
            from fctwin.controller.planning.pibt import PIBTPlanner

            self.states, self.actions = None, None
            opts = {"swap": True, "push_penalty": 1, "guidance_penalty": 2} | self.pibt_opts
            self._fallback = PIBTPlanner(**opts)
            self._fallback.reset(grid, fleet.n, seed=self.seed)
        self.t = 0
        return res

    def step(self, grid: GridMaps, fleet: FleetArrays, out_actions: np.ndarray) -> None:
        """Write the plan's next actions into ``out_actions`` (``int8[N]``); W once the plan is done."""
        t0 = time.perf_counter()
        if self._fallback is not None:
            self._fallback.step(grid, fleet, out_actions)
            self.last_kernel_s = time.perf_counter() - t0
            return
        state, _ = self._fleet_state(grid, fleet)
        expected = None if self.states is None else self.states[min(self.t, len(self.states) - 1)]
        if expected is None or not np.array_equal(expected, state):
            self.plan_oneshot(grid, fleet)
        if self._fallback is not None:
            self._fallback.step(grid, fleet, out_actions)
        elif self.t >= len(self.actions):
            out_actions[:] = ACT_W
        else:
            out_actions[:] = self.actions[self.t]
        self.t += 1
        self.last_kernel_s = time.perf_counter() - t0
