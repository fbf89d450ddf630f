"""numba kernels of LNS refinement over operations: improve a conflict-free set of operations in place.

The operation planner (`fctwin.controller.planning._epibt_kernels`) reserves one K-action operation per
unit in priority order; a high-priority unit may take the operation that makes two others wait,
and priority inheritance never revisits that. Large neighbourhood search (LNS) does: as in WPPL
(Jiang et al., SoCS 2024; LoRR 2023 winner) and EPIBT + LNS (Yukhnevich and Andreychuk, 2025; LoRR
2024 winner), it repeatedly takes a small group of units (a *neighbourhood*), removes their
reservations, re-plans them one after another against everyone else's, and keeps the result only
if the group's total cost fell. Here the plans are the K-step operations themselves (the window is
the operation) and a unit's cost is its operation's ranking key (`rank_operations`: steps to the
goal, then turns, then lateness), so the sum is the sum of costs WPPL's LNS lowers.

One iteration:

1. *Seed*: a unit not on its best-ranked operation, drawn at random (a fixed linear congruential
   generator, so runs repeat) from those that were not on their best operation when the step began.
2. *Neighbourhood*: the seed, the units whose reserved cells (or swaps) block the seed's better
   operations, then the units blocking those units' best few operations, breadth first, up to
   ``max_size`` units. Stopped units are never in a neighbourhood (they are obstacles).
3. *Repair*: the seed re-plans first, then the others in random order; each takes its best-ranked
   operation whose cells no reserved unit holds at the same time and that swaps with no one. A
   unit of higher priority than the seed may not end worse off than before (PIBT's rule that a
   unit never yields to a lower one; ``prio_pos``), or not by more than ``prio_slack`` (a bounded
   relaxation of the rule; with ``slack_per_step`` the bound is against the unit's operation when
   the step's refinement began, so over all of a step's neighbourhoods a unit loses at most
   ``prio_slack``, where otherwise it may lose it once per neighbourhood): without this rule
   MR24-WAREHOUSE gained 8% over
   the first 1,000 steps and then fell behind the planner without LNS from about step 1,500 on.
   It stops early once the group cannot beat its old total even with every remaining unit on its
   best operation.
4. *Accept* if every unit found an operation and the total fell, else restore the old operations.

Work is bounded by a count (``iterations`` per step), never by a clock: the same inputs give the
same operations on any machine. Every accepted state is conflict-free by construction (each
re-planned unit is checked against every reserved unit at every time of the window), and the
step's output is still validated independently by the benchmarks and tests.

Readable twin: `fctwin.controller.planning.reference_lns`.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning._action_kernels import operation_cells
from fctwin.controller.planning._epibt_kernels import rank_operations
from fctwin.controller.planning._kernels import ACT_W, NO_AGENT
from fctwin.controller.planning.numba_config import NUMBA_OPTS

# one step of cost in `rank_operations`' keys: ((8 * cost + turns) * 16 + lateness) * 4 + tie
KEY_PER_STEP = 8 * 16 * 4
LCG_MUL = 1103515245
LCG_ADD = 12345
LCG_MASK = 0x7FFFFFFF


@numba.njit(**NUMBA_OPTS)
def lcg_next(rng):
    """Advance ``rng[0]`` (31-bit linear congruential generator) and return 23 well-mixed bits."""
    rng[0] = (rng[0] * LCG_MUL + LCG_ADD) & LCG_MASK
    return rng[0] >> 8


@numba.njit(**NUMBA_OPTS)
def rank_all(
    H, W, pos_lin, heading, goal_slot, loaded, active, pass_u, pass_l, cell_index, tables, move_cost, tie,
    ops, lateness, prev_op, keep, opord, nops, opkey,
):  # fmt: skip
    """Every active unit's feasible operations best first (``opord[i, :nops[i]]``) with their keys
    (``opkey[i, :nops[i]]``, ascending), as `rank_operations` ranks them; stopped units get none."""
    for i in range(pos_lin.shape[0]):
        if not active[i]:
            nops[i] = 0
            continue
        rank_operations(
            H, W, i, pos_lin, heading, goal_slot, loaded, pass_u, pass_l, cell_index, tables, move_cost, tie,
            ops, lateness, prev_op, keep, opord, nops, opkey[i],
        )  # fmt: skip


@numba.njit(**NUMBA_OPTS)
def _free(cells, a, K, occ, path, unplanned):
    """Whether unit ``a`` may take ``cells`` (times 0..K): no reserved unit on a cell at the same
    time, and no swap with a reserved unit (units in ``unplanned`` hold no reservation)."""
    for k in range(1, K + 1):
        c = cells[k]
        j = occ[k, c]
        if j != NO_AGENT and j != a:
            return False
        prev = cells[k - 1]
        if c != prev:
            j = occ[k - 1, c]
            if j != NO_AGENT and j != a and not unplanned[j] and path[j, k] == prev:
                return False
    return True


@numba.njit(**NUMBA_OPTS)
def lns_refine_kernel(
    H, W, pos_lin, heading, active, ops, opord, nops, opkey, prio_pos, prio_slack, slack_per_step, base_key,
    iterations, max_size, seed, occ, path, opsel, selrank, in_nb, cand, members, saved_path, saved_sel,
    saved_rank, cells, out_actions, work,
):  # fmt: skip
    """Refine the operations ``opsel`` (with their cells ``path``, conflict-free) by ``iterations``
    LNS iterations (see the module docstring); writes each unit's first action.

    Inputs: ``opord``/``nops``/``opkey`` from `rank_all`; ``prio_pos`` int32[N], each unit's place
    in the priority order (0 first; a unit placed before the seed never gets a worse operation, -1
    for every unit: no such rule); ``prio_slack`` int64[N]: how much worse, in key units (`KEY_PER_STEP`
    per step of cost), each unit may end when it outranks the seed (0: not at all, PIBT's rule);
    ``slack_per_step`` (bool): measured from
    the unit's operation when this call began (so at most ``prio_slack`` over the whole step) rather
    than from its operation before each neighbourhood; ``base_key`` int64[N] scratch (those
    operations' keys); ``path`` int32[N, K + 1] and ``opsel``
    int32[N] as the operation kernel leaves them (updated in place); ``seed`` (< 2**31) seeds the
    generator. Scratch: occ int32[K + 1, H*W] (all -1 on entry, left all -1), selrank/cand int32[N],
    in_nb bool[N] (all False on entry, left so), members/saved_sel/saved_rank int32[max_size],
    saved_path int32[max_size, K + 1], cells int32[K + 1]. Output: out_actions int8[N]; ``work``
    int64[2]: iterations run, neighbourhoods accepted.
    """
    N = pos_lin.shape[0]
    K = ops.shape[1]
    rng = np.zeros(1, np.int64)
    rng[0] = seed & LCG_MASK
    for i in range(N):
        for k in range(K + 1):
            occ[k, path[i, k]] = i
    ncand = 0
    for i in range(N):
        selrank[i] = -1
        for r in range(nops[i]):
            if opord[i, r] == opsel[i]:
                selrank[i] = r
                break
        base_key[i] = opkey[i, selrank[i]] if selrank[i] >= 0 else np.int64(1) << 62
        if selrank[i] > 0:
            cand[ncand] = i
            ncand += 1
    runs = 0
    accepted = 0
    for _ in range(iterations):
        if ncand == 0:
            break
        runs += 1
        s = cand[lcg_next(rng) % ncand]
        if selrank[s] <= 0:
            continue  # already on its best operation
        # neighbourhood, breadth first from the seed
        members[0] = s
        in_nb[s] = True
        m = 1
        q = 0
        while q < m and m < max_size:
            a = members[q]
            q += 1
            # the seed: units in the way of its better operations; the others: of their best few
            limit = selrank[a] if q == 1 else min(nops[a], selrank[a] + 3)
            for r in range(limit):
                if m >= max_size:
                    break
                o = opord[a, r]
                if o == opsel[a]:
                    continue
                operation_cells(H, W, pos_lin[a], np.int64(heading[a]), ops, o, cells)
                for k in range(1, K + 1):
                    j = occ[k, cells[k]]
                    if j < 0 or j == a:  # (NO_AGENT is -1)
                        j = occ[k - 1, cells[k]]  # a swap partner?
                        if j < 0 or j == a or path[j, k] != cells[k - 1]:
                            continue
                    if active[j] and not in_nb[j] and m < max_size:
                        members[m] = j
                        in_nb[j] = True
                        m += 1
        # remove the group's reservations (their current cells stay in occ[0])
        old = np.int64(0)
        rest = np.int64(0)
        for b in range(m):
            a = members[b]
            old += opkey[a, selrank[a]]
            rest += opkey[a, 0]
            saved_sel[b] = opsel[a]
            saved_rank[b] = selrank[a]
            for k in range(K + 1):
                saved_path[b, k] = path[a, k]
            for k in range(1, K + 1):
                if occ[k, path[a, k]] == a:
                    occ[k, path[a, k]] = NO_AGENT
        # re-plan order: the seed, then the others shuffled
        for b in range(m - 1, 1, -1):
            x = 1 + lcg_next(rng) % b
            members[b], members[x] = members[x], members[b]
            saved_sel[b], saved_sel[x] = saved_sel[x], saved_sel[b]
            saved_rank[b], saved_rank[x] = saved_rank[x], saved_rank[b]
            for k in range(K + 1):
                t = saved_path[b, k]
                saved_path[b, k] = saved_path[x, k]
                saved_path[x, k] = t
        new = np.int64(0)
        placed = 0
        ok = True
        for b in range(m):
            a = members[b]
            rest -= opkey[a, 0]
            # as in PIBT, a unit of higher priority than the seed is not made worse for it (or by at
            # most ``prio_slack``: a bounded relaxation of the rule)
            cap = np.int64(1) << 62
            if prio_pos[a] < prio_pos[s]:
                cap = (base_key[a] if slack_per_step else opkey[a, saved_rank[b]]) + prio_slack[a]
            found = False
            for r in range(nops[a]):
                if new + opkey[a, r] + rest >= old or opkey[a, r] > cap:
                    break  # the group cannot beat its old total any more, or a would end worse off
                o = opord[a, r]
                operation_cells(H, W, pos_lin[a], np.int64(heading[a]), ops, o, cells)
                if _free(cells, a, K, occ, path, in_nb):
                    for k in range(1, K + 1):
                        path[a, k] = cells[k]
                        occ[k, cells[k]] = a
                    in_nb[a] = False  # reserved now
                    opsel[a] = o
                    selrank[a] = r
                    new += opkey[a, r]
                    found = True
                    break
            if not found:
                ok = False
                break
            placed += 1
        if ok:
            accepted += 1
        else:  # restore the old operations
            for b in range(placed):
                a = members[b]
                for k in range(1, K + 1):
                    occ[k, path[a, k]] = NO_AGENT
            for b in range(m):
                a = members[b]
                opsel[a] = saved_sel[b]
                selrank[a] = saved_rank[b]
                for k in range(K + 1):
                    path[a, k] = saved_path[b, k]
                for k in range(1, K + 1):
                    occ[k, path[a, k]] = a
        for b in range(m):
            in_nb[members[b]] = False
    work[0] = runs
    work[1] = accepted
    for i in range(N):
        out_actions[i] = ops[opsel[i], 0] if active[i] else ACT_W
    for i in range(N):
        for k in range(K + 1):
            occ[k, path[i, k]] = NO_AGENT
