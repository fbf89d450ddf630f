"""numba kernel of one lifelong step by PIBT over multi-action operations (EPIBT-style).

Plain PIBT (`fctwin.controller.planning._kernels`) plans one cell ahead; under the rotation model a unit
that must turn first reserves a cell it will not enter this step, and the units behind it wait.
Here each unit chooses an *operation*: a sequence of ``K`` F/R/C/W actions (e.g. R F F), whose
cells are reserved at times t+1 .. t+K. Units plan in priority order; an operation may not meet a
planned unit's cells (vertex or swap), and a not yet planned unit standing on one of its cells
inherits the priority and must plan an operation that clears the way (priority inheritance);
if that fails, everything planned under the operation is undone (backtracking) and the next
operation is tried. Only the first action is executed; every step plans afresh. This follows
EPIBT, the LoRR 2024 winning approach (PIBT over operations); the operation set, the ranking and
the work bound below are ours.

Readable twin: `fctwin.controller.planning.reference_epibt` (same algorithm, plain Python).
"""

from __future__ import annotations

import itertools

import numba
import numpy as np

from fctwin.controller.planning._action_kernels import step_action
from fctwin.controller.planning._kernels import (
    ACT_C,
    ACT_F,
    ACT_R,
    ACT_W,
    NO_AGENT,
    neighbour,
    sort_candidates,
    turn_steps,
)
from fctwin.controller.planning.numba_config import NUMBA_OPTS

FAR = 65535  # distance of a cell outside the tables


def make_operations(k_steps: int) -> np.ndarray:
    """All operations of ``k_steps`` actions with distinct effects, ``int8[n_ops, k_steps]``.

    Two action sequences with the same cells at every time and the same final heading are the
    same operation for the planner; of those the one with the fewest turns, and then turning
    earliest, is kept (it can start the turn now). The stay-in-place operation W...W comes first.
    """
    # effect in a frame where the unit starts at (0, 0) facing east
    seen: dict[tuple, tuple] = {}
    delta = ((0, 1), (1, 0), (0, -1), (-1, 0))
    for seq in itertools.product((ACT_F, ACT_R, ACT_C, ACT_W), repeat=k_steps):
        r = c = h = 0
        cells = []
        for a in seq:
            if a == ACT_F:
                r, c = r + delta[h][0], c + delta[h][1]
            elif a == ACT_R:
                h = (h + 1) % 4
            elif a == ACT_C:
                h = (h + 3) % 4
            cells.append((r, c))
        effect = (tuple(cells), h)
        # fewest turns (W W, not R C), then the earliest turns (R W, not W R)
        rank = (sum(a in (ACT_R, ACT_C) for a in seq), tuple(a == ACT_W for a in seq), seq)
        if effect not in seen or rank < seen[effect][0]:
            seen[effect] = (rank, seq)
    ops = sorted((v[1] for v in seen.values()), key=lambda s: (s != (ACT_W,) * k_steps, s))
    return np.array(ops, np.int8).reshape(len(ops), k_steps)


def operation_lateness(ops: np.ndarray) -> np.ndarray:
    """Tie-break weight per operation: waits early weigh more (``K - k`` for a wait at step ``k``)."""
    k_steps = ops.shape[1]
    return np.array([sum(k_steps - k for k in range(k_steps) if op[k] == ACT_W) for op in ops], np.int64)


@numba.njit(**NUMBA_OPTS)
def _dist(u, i, pos_lin, goal_slot, cell_index, tables, stride, hd):
    """Steps from cell ``u`` (facing ``hd``, rotation-aware tables) to unit i's goal (FAR off the map).

    Without a goal the unit's own cell is the goal.
    """
    slot = goal_slot[i]
    if slot < 0:
        return 0 if u == pos_lin[i] else 1
    ci = cell_index[u]
    if ci < 0:
        return FAR
    if stride == 1:
        return np.int64(tables[slot, ci])
    return np.int64(tables[slot, ci - stride + 1 + hd])


@numba.njit(**NUMBA_OPTS)
def _end_cost(
    H, W, u, hd, i, pos_lin, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost, stride
):
    """Remaining steps after an operation that ends on ``u`` facing ``hd``.

    With cell tables: the best next move from there, turns to face it included (``>= dist(u)``);
    with rotation-aware tables the table entry itself.
    """
    if stride != 1:
        return _dist(u, i, pos_lin, goal_slot, cell_index, tables, stride, hd)
    best = np.int64(FAR) + 2
    cc = cell_index[u]
    for d in range(4):
        v = neighbour(H, W, u, d)
        if v < 0 or not (pass_l[v] if loaded[i] else pass_u[v]):
            continue
        step = np.int64(move_cost[cc, d]) if cc >= 0 else 1
        c = turn_steps(hd, d) + step + _dist(v, i, pos_lin, goal_slot, cell_index, tables, 1, 0)
        if c < best:
            best = c
    return best


@numba.njit(**NUMBA_OPTS)
def rank_operations(
    H, W, i, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost, tie, ops,
    lateness, prev_op, keep, opord, nops, keys,
):  # fmt: skip
    """Unit i's feasible operations (cells on the grid and passable), best first, into ``opord[i]``.

    Cost of an operation for a unit with a goal: if it reaches the goal at step k, k plus its later
    forward moves (leaving the goal again costs); otherwise the steps it takes (moves at their
    guidance cost) plus the remaining steps from where it ends (`_end_cost`). A unit without a
    goal pays 4 per forward move and 1 per turn. An operation that goes on with the one the unit
    chose last step (``prev_op[i]``, -1: none; its first K - 1 actions are the last K - 1 of
    that one) costs ``keep`` steps less (hysteresis: a unit does not drop its plan for one just as
    good). Key = ((8 * cost + turns) * 16 + lateness) * 4 + tie: among equal costs fewer turns
    first (else a unit whose goal is equally far via two neighbours turns between them for ever,
    R C R C ..., in a jam), then early moves first (`operation_lateness`), then at random (tie
    drawn per direction of the first move, 4 for none).
    """
    K = ops.shape[1]
    cur = pos_lin[i]
    slot = goal_slot[i]
    p = prev_op[i]
    stride = tables.shape[1] // max(move_cost.shape[0], 1)
    n = 0
    for o in range(ops.shape[0]):
        c = cur
        hd = np.int64(heading[i])
        steps = np.int64(0)
        arrive = -1
        after = 0
        n_f = 0
        n_turn = 0
        first_dir = -1
        ok = True
        if slot >= 0 and _dist(cur, i, pos_lin, goal_slot, cell_index, tables, stride, hd) == 0:
            arrive = 0
        for k in range(K):
            a = ops[o, k]
            v, nhd = step_action(H, W, c, hd, a)
            if a == ACT_F:
                if v < 0 or not (pass_l[v] if loaded[i] else pass_u[v]):
                    ok = False
                    break
                cc = cell_index[c] // stride  # compact cell (floor division keeps -1 off the map)
                steps += np.int64(move_cost[cc, hd]) if (cc >= 0 and slot >= 0) else 1
                if first_dir < 0:
                    first_dir = hd
                n_f += 1
                if arrive >= 0:
                    after += 1
            else:
                if a != ACT_W:
                    n_turn += 1  # R or C
                steps += 1
            c = v
            hd = nhd
            if (
                arrive < 0
                and slot >= 0
                and _dist(c, i, pos_lin, goal_slot, cell_index, tables, stride, hd) == 0
            ):
                arrive = k + 1
        if not ok:
            continue
        if slot < 0:
            cost = 4 * n_f + n_turn
            late = 0
        elif arrive >= 0:
            cost = arrive + after
            late = lateness[o]
        else:
            cost = steps + _end_cost(
                H, W, c, hd, i, pos_lin, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost,
                stride,
            )  # fmt: skip
            late = lateness[o]
        if p >= 0:
            same = True
            for k in range(K - 1):
                if ops[o, k] != ops[p, k + 1]:
                    same = False
            if same:
                cost -= keep  # it goes on with last step's operation
        keys[n] = ((8 * cost + n_turn) * 16 + late) * 4 + tie[i, first_dir if first_dir >= 0 else 4]
        opord[i, n] = o
        n += 1
    sort_candidates(keys, opord, i, n)  # insertion sort, stable: ties keep the operation order
    nops[i] = n


@numba.njit(**NUMBA_OPTS)
def _undo(mark, trail, state, occ, path, planned):
    """Unplan every unit planned since the trail held ``mark`` units (latest first)."""
    K = path.shape[1] - 1
    while state[0] > mark:
        state[0] -= 1
        a = trail[state[0]]
        for k in range(1, K + 1):
            occ[k, path[a, k]] = NO_AGENT
        planned[a] = False


@numba.njit(**NUMBA_OPTS)
def _try_operations(
    H, W, i, depth, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost, tie,
    ops, lateness, prev_op, keep, budget, max_depth, occ, path, planned, opsel, opord, nops, cidx, blockers,
    nblk, bpos, mark, trail, failed, fail_time, need_time, blocker_time, state, keys,
):  # fmt: skip
    """Reserve unit i's next operation (from ``cidx[i]`` on) that the planned units allow.

    Units standing on its cells (not planned yet) go to ``blockers[i, :nblk[i]]``: they must plan
    next. Returns False when i has no operation left, or (below the root, ``depth > 0``) when
    ``budget`` operations were tried under the current root.
    """
    K = ops.shape[1]
    # it found nothing before under this root when asked to clear its cell by the same time or
    # later: as in PIBT it is not asked again (each unit fails at most K times per root)
    if depth > 0 and cidx[i] == 0 and failed[i] == state[2] and fail_time[i] >= need_time[i]:
        return False
    if nops[i] < 0:
        rank_operations(
            H, W, i, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost, tie,
            ops, lateness, prev_op, keep, opord, nops, keys,
        )  # fmt: skip
    while cidx[i] < nops[i]:
        if depth > 0 and state[1] >= budget:
            failed[i] = state[2]
            fail_time[i] = need_time[i]
            return False
        state[1] += 1
        o = opord[i, cidx[i]]
        cidx[i] += 1
        # the operation's cells, and whether the planned units allow them
        c = pos_lin[i]
        hd = np.int64(heading[i])
        path[i, 0] = c
        ok = True
        nb = 0
        for k in range(1, K + 1):
            prev = c
            c, hd = step_action(H, W, c, hd, ops[o, k - 1])
            path[i, k] = c
            j = occ[k, c]
            if j != NO_AGENT and j != i:
                ok = False  # vertex conflict with a planned unit
                break
            if c != prev:
                j = occ[k - 1, c]
                if j != NO_AGENT and j != i and planned[j] and path[j, k] == prev:
                    ok = False  # the two would swap cells
                    break
            j = occ[0, c]
            if j != NO_AGENT and j != i and not planned[j]:
                seen = False
                for b in range(nb):
                    if blockers[i, b] == j:
                        seen = True
                if not seen:
                    blockers[i, nb] = j
                    blocker_time[i, nb] = k  # when i needs j's cell first
                    nb += 1
        if not ok or (nb > 0 and depth >= max_depth):
            continue
        mark[i] = state[0]
        for k in range(1, K + 1):
            occ[k, path[i, k]] = i
        planned[i] = True
        opsel[i] = o
        trail[state[0]] = i
        state[0] += 1
        nblk[i] = nb
        bpos[i] = 0
        return True
    failed[i] = state[2]
    fail_time[i] = need_time[i]
    return False


@numba.njit(**NUMBA_OPTS)
def plan_root(
    H, W, root, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost, tie, ops,
    lateness, prev_op, keep, budget, max_depth, occ, path, planned, opsel, opord, nops, cidx, blockers, nblk,
    bpos, mark, trail, failed, fail_time, need_time, blocker_time, stack, state, keys,
):  # fmt: skip
    """Plan ``root`` (not planned yet) and, by priority inheritance, every unit in its way.

    A depth-first search with an explicit stack (a recursive numba function crashed when loaded
    from the cache): a unit reserves its best allowed operation (`_try_operations`), then the
    units standing on its cells plan in turn; if one of them finds nothing, everything planned
    since the unit's reservation is undone and the unit tries its next operation. A unit that found
    nothing is not asked again under the same root unless asked to clear its cell later than then
    (PIBT's bound on the work). Below the root a
    unit gives up once ``budget`` operations were tried under this root or at depth ``max_depth``.
    The root always succeeds: waiting in place never meets a planned unit (one that wanted the
    root's cell would have had to plan the root first). Returns True if the root is planned.
    """
    state[0] = 0  # trail length: undoing never reaches before this root
    state[1] = 0  # operations tried under this root
    state[2] += 1  # this root's mark in ``failed``
    sp = 0
    stack[0] = root
    cidx[root] = 0
    fresh = True  # stack[sp] must reserve its next operation (else: continue with its blockers)
    while sp >= 0:
        i = stack[sp]
        if fresh and not _try_operations(
            H, W, i, sp, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost,
            tie, ops, lateness, prev_op, keep, budget, max_depth, occ, path, planned, opsel, opord, nops,
            cidx, blockers, nblk, bpos, mark, trail, failed, fail_time, need_time, blocker_time, state, keys,
        ):  # fmt: skip
            # i failed: its pusher undoes its own operation (and all planned under it) and tries
            # its next one
            sp -= 1
            if sp < 0:
                return False
            _undo(mark[stack[sp]], trail, state, occ, path, planned)
            continue
        # i holds an operation: the next blocker not planned meanwhile plans now
        while bpos[i] < nblk[i] and planned[blockers[i, bpos[i]]]:
            bpos[i] += 1
        if bpos[i] < nblk[i]:
            j = blockers[i, bpos[i]]
            need_time[j] = blocker_time[i, bpos[i]]
            bpos[i] += 1
            sp += 1
            stack[sp] = j
            cidx[j] = 0
            fresh = True
            continue
        sp -= 1  # i and everything it pushed are planned
        fresh = False
    return True


@numba.njit(**NUMBA_OPTS)
def epibt_step_kernel(
    H, W, pos_lin, heading, goal_slot, loaded, active, pass_u, pass_l, cell_index, tables, move_cost, order,
    tie, ops, lateness, prev_op, keep, budget, max_depth, step_budget, occ, path, planned, opsel, opord, nops,
    cidx, blockers, nblk, bpos, mark, trail, failed, fail_time, need_time, blocker_time, stack, out_actions,
    work,
):  # fmt: skip
    """One lifelong step: an operation per unit in priority ``order``; writes its first action.

    Inputs as `fctwin.controller.planning._kernels.pibt_step_kernel` (``tables`` cell or rotation-aware),
    plus ``ops`` int8[n_ops, K] (`make_operations`), ``lateness`` int64[n_ops]
    (`operation_lateness`), ``prev_op`` int32[N] and ``keep`` (see `rank_operations`), ``budget``
    (operations tried per root before units below it give up), ``max_depth`` (longest
    inheritance chain) and ``step_budget`` (operations tried per step over all roots, 0 = no
    limit). Once the step has tried ``step_budget`` operations, every later root gets a per-root
    budget of 0: it still takes its best operation that needs no other unit to move (waiting
    always qualifies), but pushes nobody. The work of a step is therefore bounded by a count,
    ``step_budget`` + N x (operations per unit), never by a clock, so the same inputs give the
    same actions on a loaded machine. Scratch: occ int32[K + 1, H*W] (all -1 on entry,
    left all -1), path int32[N, K + 1], planned bool[N], opord int32[N, n_ops], blockers
    int32[N, K], opsel/nops/cidx/nblk/bpos/mark/trail/failed/fail_time/need_time/stack int32[N],
    blocker_time int32[N, K]. Output: out_actions int8[N]; ``work`` int64[2]: operations tried this
    step, and roots planned after ``step_budget`` ran out.
    """
    N = pos_lin.shape[0]
    K = ops.shape[1]
    keys = np.empty(ops.shape[0], np.int64)
    state = np.zeros(3, np.int64)
    for i in range(N):
        occ[0, pos_lin[i]] = i
        planned[i] = False
        nops[i] = -1
        failed[i] = 0
    # stopped units are obstacles: they hold their cell throughout
    for i in range(N):
        if not active[i]:
            for k in range(K + 1):
                path[i, k] = pos_lin[i]
                if k > 0:
                    occ[k, pos_lin[i]] = i
            planned[i] = True
            opsel[i] = 0  # W...W
    tried = np.int64(0)
    cut = np.int64(0)
    for oi in range(N):
        root = order[oi]
        if planned[root]:
            continue
        root_budget = np.int64(budget)
        if step_budget > 0:
            left = np.int64(step_budget) - tried
            if left <= 0:
                left = 0
                cut += 1
            if left < root_budget:
                root_budget = left
        ok = plan_root(
            H, W, root, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost,
            tie, ops, lateness, prev_op, keep, root_budget, max_depth, occ, path, planned, opsel, opord, nops,
            cidx, blockers, nblk, bpos, mark, trail, failed, fail_time, need_time, blocker_time, stack, state,
            keys,
        )  # fmt: skip
        tried += state[1]
        if not ok:
            # unreachable by the argument in plan_root; kept safe: wait in place
            for k in range(K + 1):
                path[root, k] = pos_lin[root]
                if k > 0:
                    occ[k, pos_lin[root]] = root
            planned[root] = True
            opsel[root] = 0
    work[0] = tried
    work[1] = cut
    for i in range(N):
        out_actions[i] = ops[opsel[i], 0] if active[i] else ACT_W
    for i in range(N):
        occ[0, pos_lin[i]] = NO_AGENT
        for k in range(1, K + 1):
            occ[k, path[i, k]] = NO_AGENT
