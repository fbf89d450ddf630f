"""numba kernel of the PIBT step for the 4-connected grid action model.

See `fctwin.controller.planning.grid_pibt`.

Each step a unit moves to one of its four neighbours or waits; there is no heading. This is the
model of RHCR (Li et al., AAAI 2021; ``rotation`` defaults to false in its ``driver.cpp``) and of
the MovingAI MAPF benchmarks. Same layout as `fctwin.controller.planning._kernels` (array in / array out,
cells are linear indices ``row * W + col``, scratch allocated once by the wrapper); the distance
inputs (`near_distances`) and the candidate sort (`sort_candidates`) are shared with the rotation
kernel, which this module leaves untouched. Readable twin: `fctwin.controller.planning.reference_grid`.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning._kernels import (
    N_CAND,
    NO_AGENT,
    direction_between,
    near_distances,
    sort_candidates,
)
from fctwin.controller.planning.numba_config import NUMBA_OPTS

# grid actions: a move along heading d (0 east = right, 1 south = down, 2 west = left, 3 north = up)
# has code d, so an action is also the index of the neighbour it enters; 4 waits
GRID_WAIT = 4


@numba.njit(**NUMBA_OPTS)
def grid_fill_candidates(
    i,
    pos_lin,
    occ_now,
    tie,
    pushed_dir,
    push_penalty,
    stall,
    stall_div,
    cand,
    ncand,
    keys,
    near,
    W,
    plan_next,
):
    """Sort unit ``i``'s next cells (stay + allowed neighbours) by key, best first, into ``cand[i]``.

    A move to neighbour ``v`` along heading d costs ``near[i, d]`` (move cost + distance from v, see
    `near_distances`; -1 = not allowed). Staying costs one step more than the best move (wait one
    step, then take it), zero at the goal, and ``stall[i] // stall_div`` steps more after that many
    steps without progress. key = 16 * cost + 8 * occupied + tie: among equal costs a cell no unit
    stands on now comes first (pibt2's lifelong tie-break: a free cell needs no push), then a random
    tie 0..3 per direction; the stay counts as occupied with tie 4, so equal costs favour moving. A
    unit pushed along heading ``pushed_dir`` (-1: not pushed) pays ``push_penalty`` steps for the
    cell straight on, where its pusher follows it. As `fctwin.controller.planning._kernels.fill_candidates`
    without rotations.
    """
    cur = pos_lin[i]
    cand[i, 0] = cur
    n = 1
    best = np.int64(1) << 40
    for d in range(4):
        cost = np.int64(near[i, d])
        if cost < 0:
            continue
        if cost < best:
            best = cost
        v = cur + 1 if d == 0 else (cur + W if d == 1 else (cur - 1 if d == 2 else cur - W))
        cand[i, n] = v
        occupied = 8 if occ_now[v] != NO_AGENT else 0
        keys[n] = 16 * (cost + (push_penalty if d == pushed_dir else 0)) + occupied + tie[i, d]
        n += 1
    d_cur = np.int64(near[i, 4])
    if d_cur == 0:
        stay = np.int64(0)
    elif n == 1:
        stay = 1 + d_cur
    elif stall_div > 0:
        # kept off its route for long, a unit stops preferring to wait (see the rotation kernel)
        stay = 1 + best + stall[i] // stall_div
    else:
        stay = 1 + best
    keys[0] = 16 * stay + 8 + 4  # its own cell counts as occupied; equal costs favour moving
    if plan_next[i] >= 0:  # a windowed plan's next cell comes first (`_window_kernels`)
        for a in range(n):
            if cand[i, a] == plan_next[i]:
                keys[a] = -1
    sort_candidates(keys, cand, i, n)
    ncand[i] = n


@numba.njit(**NUMBA_OPTS)
def grid_pibt_step_kernel(
    H,
    W,
    pos_lin,
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
    push_penalty,
    stall,
    stall_div,
    plan_next,
    occ_now,
    occ_next,
    next_lin,
    cand,
    ncand,
    cidx,
    stack,
    out_actions,
):
    """One PIBT step (Okumura et al., AIJ 2022) for the 4-connected model: int8 actions 0-3 move, 4 waits.

    Inputs as `fctwin.controller.planning._kernels.pibt_step_kernel` without heading and swap: pos_lin
    int32[N], goal_slot int32[N] (-1 no goal), loaded/active bool[N], pass_u/pass_l bool[H*W],
    cell_index int32[H*W], tables uint16[S, n_cells] (cell distances, one entry per cell; raises
    ValueError for rotation-aware tables), move_cost uint8[n_cells, 4], order int32[N] (units by
    decreasing priority), tie int8[N, 5], push_penalty int, stall int32[N], stall_div int,
    plan_next int32[N] (a windowed plan's next cell, ranked first; -1: none, `_window_kernels`).
    Scratch: occ_now/occ_next int32[H*W] (all -1 on entry, left all -1), next_lin int32[N],
    cand int32[N, 5], ncand/cidx/stack int32[N]. Output: out_actions int8[N], the heading of the
    move (0 E, 1 S, 2 W, 3 N) or `GRID_WAIT`. Every planned move is executed as planned, so
    PIBT's own guarantees (no vertex, no swap conflict) hold for the actions directly.
    """
    N = pos_lin.shape[0]
    if tables.shape[1] != max(move_cost.shape[0], 1) and tables.shape[0] > 0:
        raise ValueError("the grid model needs one table entry per cell (no rotation-aware tables)")
    keys = np.empty(N_CAND, np.int64)
    near = np.empty((N, N_CAND), np.int32)
    no_heading = np.zeros(N, np.int8)  # read by near_distances only for rotation-aware tables
    for i in range(N):
        occ_now[pos_lin[i]] = i
        next_lin[i] = NO_AGENT
        ncand[i] = -1
    near_distances(
        H, W, pos_lin, no_heading, goal_slot, loaded, active, pass_u, pass_l, cell_index, tables, move_cost,
        occ_now, 1, near,
    )  # fmt: skip
    for i in range(N):
        if not active[i]:  # failed / stopped units are obstacles: they keep their cell
            next_lin[i] = pos_lin[i]
            occ_next[pos_lin[i]] = i

    # --- PIBT with priority inheritance and backtracking, an explicit stack instead of recursion ---
    for oi in range(N):
        root = order[oi]
        if next_lin[root] != NO_AGENT:
            continue
        sp = 0
        stack[0] = root
        grid_fill_candidates(
            root,
            pos_lin,
            occ_now,
            tie,
            -1,
            push_penalty,
            stall,
            stall_div,
            cand,
            ncand,
            keys,
            near,
            W,
            plan_next,
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
                    grid_fill_candidates(
                        j, pos_lin, occ_now, tie, direction_between(W, pos_lin[i], pos_lin[j]), push_penalty,
                        stall, stall_div, cand, ncand, keys, near, W, plan_next,
                    )  # fmt: skip
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

    for i in range(N):
        cur = pos_lin[i]
        nxt = next_lin[i]
        out_actions[i] = GRID_WAIT if (nxt == cur or not active[i]) else direction_between(W, cur, nxt)
    # leave the cell maps clean for the next call (O(N), not O(H*W))
    for i in range(N):
        occ_now[pos_lin[i]] = NO_AGENT
        if next_lin[i] >= 0:
            occ_next[next_lin[i]] = NO_AGENT
        occ_next[pos_lin[i]] = NO_AGENT
