"""Readable pure-Python reference of the operation step (same outputs as `_epibt_kernels.epibt_step_kernel`).

Written for reading and for testing the kernel, not for speed. Recursive priority inheritance over
K-action operations with backtracking, as described in `fctwin.controller.planning._epibt_kernels`.
"""

from __future__ import annotations

import numpy as np

F, R, C, W_ = 0, 1, 2, 3  # actions (W_ so as not to clash with the grid width W)
DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # row/col step of headings E, S, W, N
FAR = 65535


def reference_epibt_step(
    H: int,
    W: int,
    pos_lin: np.ndarray,
    heading: np.ndarray,
    goal_slot: np.ndarray,
    loaded: np.ndarray,
    active: np.ndarray,
    pass_u: np.ndarray,
    pass_l: np.ndarray,
    cell_index: np.ndarray,
    tables: np.ndarray,
    move_cost: np.ndarray,
    order: np.ndarray,
    tie: np.ndarray,
    ops: np.ndarray,
    lateness: np.ndarray,
    prev_op: np.ndarray,
    keep: int,
    budget: int,
    max_depth: int,
    step_budget: int = 0,
    work: list[int] | None = None,
) -> np.ndarray:
    """Return ``int8[N]`` actions for one step; arguments as in `epibt_step_kernel` (no scratch).

    ``work``, if given, receives [operations tried this step, roots planned after ``step_budget``
    ran out] as the kernel's ``work`` output.
    """
    n = len(pos_lin)
    k_steps = ops.shape[1]
    cur = [int(p) for p in pos_lin]
    stride = tables.shape[1] // max(move_cost.shape[0], 1)

    def step_from(u: int, h: int) -> int:
        """Cell ahead of ``u`` facing ``h``, -1 off the grid."""
        r, c = divmod(u, W)
        r2, c2 = r + DELTA[h][0], c + DELTA[h][1]
        return r2 * W + c2 if 0 <= r2 < H and 0 <= c2 < W else -1

    def passable(i: int, u: int) -> bool:
        return u >= 0 and bool(pass_l[u] if loaded[i] else pass_u[u])

    def dist(i: int, u: int, h: int) -> int:
        """Steps from ``u`` (facing ``h`` with rotation-aware tables) to unit i's goal."""
        if goal_slot[i] < 0:
            return 0 if u == cur[i] else 1
        ci = int(cell_index[u])
        if ci < 0:
            return FAR
        return int(tables[goal_slot[i], ci if stride == 1 else ci - stride + 1 + h])

    def end_cost(i: int, u: int, h: int) -> int:
        """Remaining steps from ``u`` facing ``h``: the best next move with its turns (cell tables)."""
        if stride != 1:
            return dist(i, u, h)
        best = FAR + 2
        for d in range(4):
            v = step_from(u, d)
            if passable(i, v):
                step = int(move_cost[cell_index[u], d]) if cell_index[u] >= 0 else 1
                turns = min((d - h) % 4, (h - d) % 4)
                best = min(best, turns + step + dist(i, v, 0))
        return best

    def simulate(i: int, op) -> list[int] | None:
        """Cells of unit i at times 0..K under ``op``, None if it leaves the grid or the passable cells."""
        u, h = cur[i], int(heading[i])
        cells = [u]
        for a in op:
            if a == F:
                u = step_from(u, h)
                if not passable(i, u):
                    return None
            elif a == R:
                h = (h + 1) % 4
            elif a == C:
                h = (h - 1) % 4
            cells.append(u)
        return cells

    def rank(i: int) -> list[int]:
        """Unit i's feasible operations, best first (see `rank_operations` for the key)."""
        keyed = []
        for o, op in enumerate(ops):
            if simulate(i, op) is None:
                continue
            u, h = cur[i], int(heading[i])
            has_goal = goal_slot[i] >= 0
            arrive = 0 if has_goal and dist(i, u, h) == 0 else None
            steps = after = n_f = n_turn = 0
            first_dir = None
            for k, a in enumerate(op):
                if a == F:
                    cc = int(cell_index[u]) // stride
                    steps += int(move_cost[cc, h]) if (cc >= 0 and has_goal) else 1
                    first_dir = h if first_dir is None else first_dir
                    u = step_from(u, h)
                    n_f += 1
                    after += arrive is not None
                else:
                    h = (h + (1 if a == R else -1 if a == C else 0)) % 4
                    n_turn += a != W_
                    steps += 1
                if arrive is None and has_goal and dist(i, u, h) == 0:
                    arrive = k + 1
            if not has_goal:
                cost, late = 4 * n_f + n_turn, 0
            elif arrive is not None:
                cost, late = arrive + after, int(lateness[o])
            else:
                cost, late = steps + end_cost(i, u, h), int(lateness[o])
            if prev_op[i] >= 0 and tuple(op[:-1]) == tuple(ops[prev_op[i]][1:]):
                cost -= keep  # goes on with last step's operation
            draw = int(tie[i, 4 if first_dir is None else first_dir])
            keyed.append((((8 * cost + n_turn) * 16 + late) * 4 + draw, o))
        return [o for _, o in sorted(keyed, key=lambda t: t[0])]  # stable: ties keep operation order

    ranked: dict[int, list[int]] = {}
    reserved: dict[tuple[int, int], int] = {}  # (time, cell) -> planned unit
    cells_of: dict[int, list[int]] = {}  # planned unit -> its cells at times 0..K
    chosen: dict[int, int] = {}
    trail: list[int] = []
    tried = [0]  # operations tried under the current root
    at = {u: i for i, u in enumerate(cur)}  # cell -> unit standing there now

    def plan(i: int, cells: list[int]) -> None:
        for k in range(1, k_steps + 1):
            reserved[(k, cells[k])] = i
        cells_of[i] = cells
        trail.append(i)

    def undo(mark: int) -> None:
        while len(trail) > mark:
            a = trail.pop()
            for k in range(1, k_steps + 1):
                del reserved[(k, cells_of[a][k])]
            del cells_of[a]

    for i in range(n):
        if not active[i]:
            plan(i, [cur[i]] * (k_steps + 1))
            chosen[i] = 0

    # units that found nothing under the current root -> the time by which they had to clear their cell
    failed: dict[int, int] = {}

    def pibt(i: int, depth: int, need: int, budget: int) -> bool:
        if depth > 0 and failed.get(i, 0) >= need:
            return False
        if i not in ranked:
            ranked[i] = rank(i)
        for o in ranked[i]:
            if depth > 0 and tried[0] >= budget:
                failed[i] = need
                return False
            tried[0] += 1
            cells = simulate(i, ops[o])
            blockers: dict[int, int] = {}  # unit -> first time i needs its cell (in insertion order)
            ok = True
            for k in range(1, k_steps + 1):
                u, prev = cells[k], cells[k - 1]
                if reserved.get((k, u), i) != i:
                    ok = False
                    break
                j = reserved.get((k - 1, u)) if k > 1 else at.get(u)
                if u != prev and j is not None and j != i and j in cells_of and cells_of[j][k] == prev:
                    ok = False  # swap
                    break
                j = at.get(u)
                if j is not None and j != i and j not in cells_of and j not in blockers:
                    blockers[j] = k
            if not ok or (blockers and depth >= max_depth):
                continue
            mark = len(trail)
            plan(i, cells)
            chosen[i] = o
            if all(j in cells_of or pibt(j, depth + 1, t, budget) for j, t in blockers.items()):
                return True
            undo(mark)
        failed[i] = need
        return False

    total = 0  # operations tried this step
    cut = 0  # roots planned after the step budget ran out
    for root in order:
        root = int(root)
        if root in cells_of:
            continue
        trail.clear()
        failed.clear()
        tried[0] = 0
        root_budget = budget
        if step_budget > 0:
            # the step's counted bound: once spent, later roots push nobody (per-root budget 0)
            left = max(step_budget - total, 0)
            cut += left == 0
            root_budget = min(budget, left)
        if not pibt(root, 0, 0, root_budget):
            plan(root, [cur[root]] * (k_steps + 1))
            chosen[root] = 0
        total += tried[0]
    if work is not None:
        work[:] = [total, cut]
    return np.array([ops[chosen[i]][0] if active[i] else W_ for i in range(n)], np.int8)
