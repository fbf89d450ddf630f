"""numba kernels of the LaCAM one-shot planner (see `fctwin.controller.planning.lacam`).

States are (cell, heading) pairs encoded as ``state = cell * 4 + heading`` with ``cell = row * W +
col`` and headings 0 E, 1 S, 2 W, 3 N. A unit's successors are F (the cell ahead, same heading),
R (heading + 1), C (heading - 1) and W. Collisions are on cells only: no two units in one cell, no
two units exchanging cells. Array in / array out like `fctwin.controller.planning._kernels` (whose
``neighbour`` and ``sort_candidates`` helpers are reused); scratch arrays are allocated once by the caller.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning._kernels import neighbour, sort_candidates
from fctwin.controller.planning.numba_config import NUMBA_OPTS

NO_AGENT = -1
N_SUCC = 4  # F, R, C, W
DIST_INF = 65535


@numba.njit(**NUMBA_OPTS)
def state_distance_kernel(H, W, passable, goals, out, queue):
    """Exact rotation-model distances to each goal cell, any heading at the goal.

    passable bool[H*W]; goals int32[K] cells; out uint16[K, H*W*4] (written: steps from each state to
    reach the goal cell with F/R/C moves, 65535 unreachable); queue int32[H*W*4] scratch. Reverse
    breadth-first search: state (v, h) is reached by F from (v - ahead(h), h) and by R/C from
    (v, h -/+ 1).
    """
    for k in range(goals.shape[0]):
        row = out[k]
        row[:] = DIST_INF
        g = goals[k]
        tail = 0
        for h in range(4):
            row[g * 4 + h] = 0
            queue[tail] = g * 4 + h
            tail += 1
        head = 0
        while head < tail:
            s = queue[head]
            head += 1
            du = row[s] + 1
            v = s >> 2
            h = s & 3
            p = neighbour(H, W, v, (h + 2) & 3)  # F from p along h lands on v
            if p >= 0 and passable[p]:
                ps = p * 4 + h
                if row[ps] == DIST_INF:
                    row[ps] = du
                    queue[tail] = ps
                    tail += 1
            for dh in (3, 1):  # R from heading h-1, C from heading h+1
                ps = v * 4 + ((h + dh) & 3)
                if row[ps] == DIST_INF:
                    row[ps] = du
                    queue[tail] = ps
                    tail += 1


@numba.njit(**NUMBA_OPTS)
def _fill_successors(H, W, i, passable, state, dist, tie, cand, ncand):
    """Unit ``i``'s successor states sorted best first into ``cand[i]``.

    Cost of a successor: 1 + its distance to the goal; W costs 0 at the goal (a unit on its goal
    stays). key = 8 * cost + tie (tie 0..3 per successor, drawn by the caller), so equal costs are
    broken at random.
    """
    s = state[i]
    u = s >> 2
    h = s & 3
    keys = np.empty(N_SUCC, np.int64)
    n = 0
    v = neighbour(H, W, u, h)
    if v >= 0 and passable[v]:
        cand[i, n] = v * 4 + h
        keys[n] = 8 * (1 + np.int64(dist[i, v * 4 + h])) + tie[i, 0]
        n += 1
    cand[i, n] = u * 4 + ((h + 1) & 3)
    keys[n] = 8 * (1 + np.int64(dist[i, cand[i, n]])) + tie[i, 1]
    n += 1
    cand[i, n] = u * 4 + ((h + 3) & 3)
    keys[n] = 8 * (1 + np.int64(dist[i, cand[i, n]])) + tie[i, 2]
    n += 1
    cand[i, n] = s
    d_s = np.int64(dist[i, s])
    keys[n] = tie[i, 3] if d_s == 0 else 8 * (1 + d_s) + tie[i, 3]
    n += 1
    sort_candidates(keys, cand, i, n)
    ncand[i] = n


@numba.njit(**NUMBA_OPTS)
def _escape_state(H, W, i, passable, state, dist, pusher, occ_next):
    """In-place state of a pushed unit ``i`` that could not leave: a turn towards its best way out.

    Ways out are passable neighbours other than the pusher's cell that nobody reserved, ranked by
    rotations to face them + their distance to the goal; -1 if there is none (or ``pusher`` < 0).
    Turning now lets the unit leave by F at a later step (a unit facing its pusher would otherwise
    turn back towards its goal, into the pusher, for ever).
    """
    if pusher < 0:
        return -1
    s = state[i]
    u = s >> 2
    h = s & 3
    pc = state[pusher] >> 2
    best_key = np.int64(1) << 40
    best_d = -1
    for d in range(4):
        w = neighbour(H, W, u, d)
        if w < 0 or not passable[w] or w == pc or occ_next[w] != NO_AGENT:
            continue
        t = (d - h) & 3
        turns = 2 if t == 2 else (1 if t != 0 else 0)
        key = 4 * (turns + np.int64(dist[i, w * 4 + d])) + d
        if key < best_key:
            best_key = key
            best_d = d
    if best_d < 0:
        return -1
    t = (best_d - h) & 3
    if t == 0:
        return s
    if t == 3:
        return u * 4 + ((h + 3) & 3)
    return u * 4 + ((h + 1) & 3)


@numba.njit(**NUMBA_OPTS)
def constrained_pibt_kernel(
    H, W, passable, state, dist, order, tie, fix_who, fix_state, occ_now, occ_next, cand, ncand, cidx, stack,
    next_state,
):  # fmt: skip
    """One PIBT successor configuration under LaCAM constraints; returns True if it is valid.

    passable bool[H*W]; state int32[N] current states; dist uint16[N, H*W*4] each unit's distances
    (`state_distance_kernel` rows, one per unit); order int32[N] units by decreasing priority; tie
    int8[N, 4] random 0..3 per successor; constraints: unit ``fix_who[k]`` must take state
    ``fix_state[k]`` (int32[D], D <= N, each a successor of that unit's state). Scratch: occ_now,
    occ_next int32[H*W] all -1 on entry and left all -1; cand int32[N, 4]; ncand, cidx, stack
    int32[N]. Output: next_state int32[N] (a valid configuration when True is returned).

    PIBT (Okumura et al., AIJ 2022) over states, as in LaCAM's configuration generator (Okumura,
    AAAI 2023): constrained units are placed first (False if two constraints collide); then units in
    ``order`` take their best free successor, pushing a unit that has not moved yet out of the cell
    they enter (priority inheritance). A pushed unit can only leave by F; one that cannot keeps its
    cell with its best rotation (or wait), and its pusher tries its next successor. False if a unit
    can neither move nor keep its cell (a constrained unit reserved it).
    """
    N = state.shape[0]
    for i in range(N):
        occ_now[state[i] >> 2] = i
        next_state[i] = NO_AGENT
    valid = True
    for k in range(fix_who.shape[0]):
        a = fix_who[k]
        v = fix_state[k] >> 2
        b = occ_now[v]
        if occ_next[v] != NO_AGENT or (
            b != NO_AGENT and b != a and next_state[b] != NO_AGENT and next_state[b] >> 2 == state[a] >> 2
        ):
            valid = False
            break
        next_state[a] = fix_state[k]
        occ_next[v] = a

    for oi in range(N):
        if not valid:
            break
        root = order[oi]
        if next_state[root] != NO_AGENT:
            continue
        _fill_successors(H, W, root, passable, state, dist, tie, cand, ncand)
        cidx[root] = 0
        sp = 0
        stack[0] = root
        ret = -1  # -1 fresh or resumed after a child failed, 1 a child succeeded
        while sp >= 0:
            i = stack[sp]
            if ret == 1:
                sp -= 1
                continue
            pushed = False
            ok = False
            u = state[i] >> 2
            while cidx[i] < ncand[i]:
                ns = cand[i, cidx[i]]
                cidx[i] += 1
                v = ns >> 2
                if occ_next[v] != NO_AGENT:
                    continue
                j = occ_now[v]
                if v != u and j != NO_AGENT and next_state[j] != NO_AGENT and next_state[j] >> 2 == u:
                    continue  # would swap with j
                next_state[i] = ns
                occ_next[v] = i
                if j != NO_AGENT and j != i and next_state[j] == NO_AGENT:
                    sp += 1  # priority inheritance: j must leave v
                    stack[sp] = j
                    _fill_successors(H, W, j, passable, state, dist, tie, cand, ncand)
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
            # no successor left: keep the cell with the best in-place state (rotation towards the
            # preferred exit, or wait); only the unit that pushed us can hold the cell, and it
            # then tries its next successor
            if sp == 0 and occ_next[u] != NO_AGENT:
                valid = False  # a constrained unit enters the root's cell and the root cannot leave
                break
            best = _escape_state(H, W, i, passable, state, dist, stack[sp - 1] if sp > 0 else -1, occ_next)
            if best < 0:
                best = state[i]
                for a in range(ncand[i]):
                    if cand[i, a] >> 2 == u:
                        best = cand[i, a]
                        break
            next_state[i] = best
            occ_next[u] = i
            ret = 0
            sp -= 1

    for i in range(N):  # leave the cell maps clean (O(N))
        occ_now[state[i] >> 2] = NO_AGENT
        occ_next[state[i] >> 2] = NO_AGENT
        if next_state[i] >= 0:
            occ_next[next_state[i] >> 2] = NO_AGENT
    return valid
