"""numba kernels of the PIBT step for the rotation action model (see `controller.planning.pibt`).

All kernels are array in / array out: the wrapper allocates every array (including scratch space)
once per run and the kernels write into them. Cells are linear indices ``row * W + col``.
Readable twin: `controller.planning.reference` (same algorithm, plain Python, recursive).
"""

from __future__ import annotations

import numba
import numpy as np

from controller.planning.numba_config import NUMBA_OPTS

ACT_F = 0
ACT_R = 1  # clockwise: heading + 1
ACT_C = 2  # counter-clockwise: heading - 1
ACT_W = 3
NO_AGENT = -1
N_CAND = 5  # 4 neighbours + stay


@numba.njit(**NUMBA_OPTS)
def neighbour(H, W, u, d):
    """Cell one step from ``u`` along heading ``d`` (0 E, 1 S, 2 W, 3 N), or -1 off the grid."""
    r = u // W
    c = u - r * W
    if d == 0:
        return u + 1 if c + 1 < W else -1
    if d == 1:
        return u + W if r + 1 < H else -1
    if d == 2:
        return u - 1 if c > 0 else -1
    return u - W if r > 0 else -1


@numba.njit(**NUMBA_OPTS)
def direction_between(W, u, v):
    """Heading that leads from ``u`` to its neighbour ``v``."""
    if v == u + 1:
        return 0
    if v == u + W:
        return 1
    if v == u - 1:
        return 2
    return 3


@numba.njit(**NUMBA_OPTS)
def turn_steps(h_from, h_to):
    """Rotations needed to turn from one heading to another (0, 1 or 2)."""
    t = (h_to - h_from) % 4
    return 2 if t == 2 else (1 if t != 0 else 0)


@numba.njit(**NUMBA_OPTS)
def cell_distance(u, cur, slot, cell_index, tables):
    """Distance from cell ``u`` to the unit's goal; without a goal the unit's own cell is the goal."""
    if slot < 0:
        return 0 if u == cur else 1
    ci = cell_index[u]
    if ci < 0:
        return 65535
    return np.int64(tables[slot, ci])


@numba.njit(**NUMBA_OPTS)
def fill_candidates(
    H,
    W,
    i,
    pos_lin,
    heading,
    goal_slot,
    loaded,
    active,
    pass_u,
    pass_l,
    cell_index,
    tables,
    move_cost,
    occ_now,
    tie,
    cand,
    ncand,
):
    """Sort unit ``i``'s next cells (stay + passable neighbours) by key, best first, into ``cand[i]``.

    A move to neighbour ``v`` costs ``rotations to face v + move_cost(cur -> v) + dist(v)`` (the move
    cost is 1 unless guidance penalises that direction); staying costs one step
    more than the best move (zero at the goal), so a unit facing away from its route turns instead of
    idling. key = 8 * cost + tie, with tie 0..3 from the caller's random draw for moves and 4 for the
    stay, so equal costs favour moving and are otherwise broken at random.
    """
    cur = pos_lin[i]
    slot = goal_slot[i]
    keys = np.empty(N_CAND, np.int64)
    cand[i, 0] = cur
    ci_cur = cell_index[cur]
    n = 1
    best = np.int64(1) << 40
    for d in range(4):
        v = neighbour(H, W, cur, d)
        if v < 0:
            continue
        if loaded[i]:
            if not pass_l[v]:
                continue
        elif not pass_u[v]:
            continue
        j = occ_now[v]
        if j != NO_AGENT and not active[j]:
            continue  # a stopped unit is an obstacle: it must not count as this unit's best move
        step_cost = np.int64(move_cost[ci_cur, d]) if (ci_cur >= 0 and slot >= 0) else 1
        cost = turn_steps(heading[i], d) + step_cost + cell_distance(v, cur, slot, cell_index, tables)
        if cost < best:
            best = cost
        cand[i, n] = v
        keys[n] = 8 * cost + tie[i, d]
        n += 1
    d_cur = cell_distance(cur, cur, slot, cell_index, tables)
    if d_cur == 0:
        keys[0] = 4
    elif n == 1:
        keys[0] = 8 * (1 + d_cur) + 4
    else:
        keys[0] = 8 * (1 + best) + 4
    # insertion sort: at most 5 entries
    for a in range(1, n):
        kv = keys[a]
        cv = cand[i, a]
        b = a - 1
        while b >= 0 and keys[b] > kv:
            keys[b + 1] = keys[b]
            cand[i, b + 1] = cand[i, b]
            b -= 1
        keys[b + 1] = kv
        cand[i, b + 1] = cv
    ncand[i] = n


@numba.njit(**NUMBA_OPTS)
def pibt_step_kernel(
    H,
    W,
    pos_lin,
    heading,
    goal_slot,
    loaded,
    active,
    pass_u,
    pass_l,
    cell_index,
    tables,
    move_cost,
    order,
    tie,
    occ_now,
    occ_next,
    next_lin,
    cand,
    ncand,
    cidx,
    stack,
    out_actions,
):
    """One PIBT step with rotation-aware conversion to F/R/C/W actions.

    Inputs: pos_lin int32[N], heading int8[N], goal_slot int32[N] (-1 no goal), loaded/active bool[N],
    pass_u/pass_l bool[H*W], cell_index int32[H*W], tables uint16[S, n_cells], move_cost
    uint8[n_cells, 4] (guidance), order int32[N]
    (units by decreasing priority), tie int8[N, 5] (random 0..3 per neighbour direction and stay).
    Scratch (any contents on entry except occ_now/occ_next, which must be all -1 and are left all -1):
    occ_now/occ_next int32[H*W], next_lin int32[N], cand int32[N, 5], ncand/cidx int32[N],
    stack int32[N]. Output: out_actions int8[N].
    """
    N = pos_lin.shape[0]
    for i in range(N):
        occ_now[pos_lin[i]] = i
        next_lin[i] = NO_AGENT
        ncand[i] = -1
    # failed / stopped units are obstacles: they keep their cell
    for i in range(N):
        if not active[i]:
            next_lin[i] = pos_lin[i]
            occ_next[pos_lin[i]] = i

    # --- PIBT (Okumura et al. 2022), iterative with an explicit stack instead of recursion ---
    for oi in range(N):
        root = order[oi]
        if next_lin[root] != NO_AGENT:
            continue
        sp = 0
        stack[0] = root
        fill_candidates(
            H,
            W,
            root,
            pos_lin,
            heading,
            goal_slot,
            loaded,
            active,
            pass_u,
            pass_l,
            cell_index,
            tables,
            move_cost,
            occ_now,
            tie,
            cand,
            ncand,
        )
        cidx[root] = 0
        ret = -1  # -1 fresh / resumed after a child failed, 1 child succeeded
        while sp >= 0:
            i = stack[sp]
            if ret == 1:  # success propagates straight up
                sp -= 1
                continue
            pushed = False
            ok = False
            while cidx[i] < ncand[i]:
                v = cand[i, cidx[i]]
                cidx[i] += 1
                if occ_next[v] != NO_AGENT:
                    continue
                j = occ_now[v]
                if j != NO_AGENT and next_lin[j] == pos_lin[i]:
                    continue  # would swap with j
                next_lin[i] = v
                occ_next[v] = i
                if j != NO_AGENT and j != i and next_lin[j] == NO_AGENT:
                    # priority inheritance: j must make room for i
                    sp += 1
                    stack[sp] = j
                    fill_candidates(
                        H,
                        W,
                        j,
                        pos_lin,
                        heading,
                        goal_slot,
                        loaded,
                        active,
                        pass_u,
                        pass_l,
                        cell_index,
                        tables,
                        move_cost,
                        occ_now,
                        tie,
                        cand,
                        ncand,
                    )
                    cidx[j] = 0
                    pushed = True
                else:
                    ok = True
                break
            if pushed:
                ret = -1
                continue
            if ok:
                ret = 1
                sp -= 1
                continue
            # no candidate left: stay (overrides the reservation of the unit that pushed us)
            next_lin[i] = pos_lin[i]
            occ_next[pos_lin[i]] = i
            ret = 0
            sp -= 1

    # --- cells to actions: only a unit facing its next cell moves; others turn towards it ---
    for i in range(N):
        cur = pos_lin[i]
        h = heading[i]
        if not active[i]:
            out_actions[i] = ACT_W
            continue
        target = next_lin[i]
        if target == cur:
            # blocked: use the wait to face the preferred cell (free progress for later)
            target = cand[i, 0] if ncand[i] > 0 else cur
            if target == cur:
                out_actions[i] = ACT_W
                continue
        d = direction_between(W, cur, target)
        t = (d - h) % 4
        if t == 0:
            out_actions[i] = ACT_F if next_lin[i] != cur else ACT_W
        elif t == 1:
            out_actions[i] = ACT_R
        elif t == 3:
            out_actions[i] = ACT_C
        else:
            out_actions[i] = ACT_R if tie[i, 4] % 2 == 0 else ACT_C
    # a unit that planned to leave but turns instead still holds its cell: whoever planned to enter
    # that cell must wait, and so on up the chain (cycles of movers are left intact)
    sp = 0
    for i in range(N):
        if next_lin[i] != pos_lin[i] and out_actions[i] != ACT_F:
            stack[sp] = i
            sp += 1
    while sp > 0:
        sp -= 1
        j = stack[sp]
        k = occ_next[pos_lin[j]]
        if k != NO_AGENT and k != j and out_actions[k] == ACT_F:
            out_actions[k] = ACT_W
            stack[sp] = k
            sp += 1

    # leave the cell maps clean for the next call (O(N), not O(H*W))
    for i in range(N):
        occ_now[pos_lin[i]] = NO_AGENT
        if next_lin[i] >= 0:
            occ_next[next_lin[i]] = NO_AGENT
        occ_next[pos_lin[i]] = NO_AGENT
