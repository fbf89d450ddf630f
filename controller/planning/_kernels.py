"""numba kernels of the PIBT step for the rotation action model (see `fctwin.controller.planning.pibt`).

All kernels are array in / array out: the wrapper allocates every array (including scratch space)
once per run and the kernels write into them. Cells are linear indices ``row * W + col``.
Readable twin: `fctwin.controller.planning.reference` (same algorithm, plain Python, recursive).
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning.numba_config import NUMBA_OPTS

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
def near_distances(
    H, W, pos_lin, heading, goal_slot, loaded, active, pass_u, pass_l, cell_index, tables, move_cost, occ_now,
    stride, near,
):  # fmt: skip
    """Each unit's step costs: ``near`` int32[N, 5], read by `fill_candidates`.

    ``near[i, d]`` (d = 0..3: E, S, W, N) is the move cost (guidance) plus the goal distance from
    that neighbour, or -1 where unit i may not go (off the grid, impassable for its load state, or
    a stopped unit's cell); ``near[i, 4]`` is the distance from its own cell. Needs ``occ_now``
    filled. One tight pass before PIBT, so the CPU overlaps the cache misses of many units' tables
    (each unit reads its own goal's table, ~10,000 tables spread over 2 GB on warehouse_large);
    inside PIBT's branchy search the same reads were taken one miss at a time. With rotation-aware
    tables (``stride`` 5, see `fctwin.controller.planning.distance`) a neighbour's entry is that of
    arriving there facing the move's heading, and the unit's own that of its current heading, so
    the ranking counts every later turn of the route.
    """
    for i in range(pos_lin.shape[0]):
        cur = pos_lin[i]
        slot = goal_slot[i]
        ci_cur = cell_index[cur]
        cc = ci_cur // stride  # compact cell index (floor division keeps -1 for cells off the map)
        for d in range(4):
            v = neighbour(H, W, cur, d)
            if v < 0 or not (pass_l[v] if loaded[i] else pass_u[v]):
                near[i, d] = -1
                continue
            j = occ_now[v]
            if j != NO_AGENT and not active[j]:
                near[i, d] = -1  # a stopped unit is an obstacle: it must not count as a best move
                continue
            step_cost = np.int64(move_cost[cc, d]) if (cc >= 0 and slot >= 0) else 1
            if stride == 1 or slot < 0:
                dist = cell_distance(v, cur, slot, cell_index, tables)
            else:
                ci = cell_index[v]
                dist = np.int64(tables[slot, ci - stride + 1 + d]) if ci >= 0 else 65535
            near[i, d] = step_cost + dist
        if stride == 1 or slot < 0:
            near[i, 4] = cell_distance(cur, cur, slot, cell_index, tables)
        else:
            near[i, 4] = tables[slot, ci_cur - stride + 1 + heading[i]] if ci_cur >= 0 else 65535


# inline="always": inlined in numba's IR, so the hot candidate loop pays no call (as a plain call it
# made the MR24-WAREHOUSE kernel median 9.24 ms against 8.77 ms back to back; inlined 7.98-8.88 ms)
@numba.njit(inline="always", **NUMBA_OPTS)
def sort_candidates(keys, cand, i, n):
    """Sort ``cand[i, :n]`` by ``keys[:n]``, ascending and stable (insertion sort: at most 5 entries)."""
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
    pushed_dir,
    push_penalty,
    stall,
    stall_div,
    cand,
    ncand,
    keys,
    near,
):
    """Sort unit ``i``'s next cells (stay + passable neighbours) by key, best first, into ``cand[i]``.

    A move to neighbour ``v`` costs ``rotations to face v + move_cost(cur -> v) + dist(v)`` (the move
    cost is 1 unless guidance penalises that direction); staying costs one step
    more than the best move (zero at the goal), so a unit facing away from its route turns instead of
    idling. key = 8 * cost + tie, with tie 0..3 from the caller's random draw for moves and 4 for the
    stay, so equal costs favour moving and are otherwise broken at random. A unit pushed along heading
    ``pushed_dir`` (-1: not pushed) pays ``push_penalty`` steps for the cell straight on, where its
    pusher will follow it (stepping aside ends the push; off by default, see PIBTPlanner). Staying
    costs ``stall[i] // stall_div`` more steps after ``stall[i]`` steps without progress.
    """
    cur = pos_lin[i]
    cand[i, 0] = cur
    n = 1
    best = np.int64(1) << 40
    for d in range(4):
        step_dist = near[i, d]  # move cost + distance, -1 where the unit may not go (`near_distances`)
        if step_dist < 0:
            continue
        v = neighbour(H, W, cur, d)
        cost = turn_steps(heading[i], d) + np.int64(step_dist)
        if cost < best:
            best = cost
        cand[i, n] = v
        keys[n] = 8 * (cost + (push_penalty if d == pushed_dir else 0)) + tie[i, d]
        n += 1
    d_cur = np.int64(near[i, 4])
    if d_cur == 0:
        keys[0] = 4
    elif n == 1:
        keys[0] = 8 * (1 + d_cur) + 4
    elif stall_div > 0:
        # a unit kept off its route for long stops preferring to wait: a top-priority unit whose
        # only way on is through a unit that can only leave through its own cell (a loaded unit in a
        # storage pocket) would otherwise wait for ever
        keys[0] = 8 * (1 + best + stall[i] // stall_div) + 4
    else:
        keys[0] = 8 * (1 + best) + 4
    sort_candidates(keys, cand, i, n)
    ncand[i] = n


@numba.njit(**NUMBA_OPTS)
def _dead_end_goal(H, W, u, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u):
    """True if a unit stands on its goal at ``u`` and ``u`` is a dead end (it need not move)."""
    a = occ_now[u]
    if a == NO_AGENT or goal_slot[a] < 0:
        return False
    deg = 0
    for d in range(4):
        w = neighbour(H, W, u, d)
        if w >= 0 and pass_u[w]:
            deg += 1
    return deg == 1 and cell_distance(u, pos_lin[a], goal_slot[a], cell_index, tables) == 0


@numba.njit(**NUMBA_OPTS)
def _corridor_exits(H, W, v_pusher, v_puller, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u):
    """Exits of ``v_puller`` other than ``v_pusher`` and dead-end goals: (count, one of them)."""
    n = 0
    tmp = -1
    for d in range(4):
        u = neighbour(H, W, v_puller, d)
        if u < 0 or not pass_u[u]:
            continue
        if u == v_pusher or _dead_end_goal(H, W, u, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u):
            continue
        n += 1
        tmp = u
    return n, tmp


@numba.njit(**NUMBA_OPTS)
def is_swap_required(
    H, W, pusher, puller, v_pusher, v_puller, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u
):
    """Okumura's PIBT swap test: pushing ``puller`` along a corridor would never let ``pusher`` pass."""
    cp = pos_lin[pusher]
    sp = goal_slot[pusher]
    cl = pos_lin[puller]
    sl = goal_slot[puller]
    for _ in range(H * W):
        if cell_distance(v_puller, cp, sp, cell_index, tables) >= cell_distance(
            v_pusher, cp, sp, cell_index, tables
        ):
            break
        n, tmp = _corridor_exits(
            H, W, v_pusher, v_puller, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u
        )
        if n >= 2:
            return False  # a junction: the two can pass each other there
        if n <= 0:
            break
        v_pusher = v_puller
        v_puller = tmp
    return cell_distance(v_pusher, cl, sl, cell_index, tables) < cell_distance(
        v_puller, cl, sl, cell_index, tables
    ) and (
        cell_distance(v_pusher, cp, sp, cell_index, tables) == 0
        or cell_distance(v_puller, cp, sp, cell_index, tables)
        < cell_distance(v_pusher, cp, sp, cell_index, tables)
    )


@numba.njit(**NUMBA_OPTS)
def is_swap_possible(
    H, W, v_pusher_origin, v_puller_origin, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u
):
    """Pulling along the corridor reaches a junction (so the pair can swap there)."""
    v_pusher = v_pusher_origin
    v_puller = v_puller_origin
    for _ in range(H * W):
        if v_puller == v_pusher_origin:
            return False  # went round a loop
        n, tmp = _corridor_exits(
            H, W, v_pusher, v_puller, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u
        )
        if n >= 2:
            return True
        if n <= 0:
            return False
        v_pusher = v_puller
        v_puller = tmp
    return False


@numba.njit(**NUMBA_OPTS)
def find_swap_agent(H, W, i, cand, next_lin, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u):
    """The unit ``i`` should pull instead of push (PIBT swap, Okumura 2024), or -1."""
    c0 = cand[i, 0]
    cur = pos_lin[i]
    j = occ_now[c0]
    if (
        j != NO_AGENT
        and j != i
        and next_lin[j] == NO_AGENT
        and is_swap_required(
            H, W, i, j, cur, pos_lin[j], occ_now, pos_lin, goal_slot, cell_index, tables, pass_u
        )
        and is_swap_possible(H, W, pos_lin[j], cur, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u)
    ):
        return j
    if c0 != cur:  # "clear": a unit behind i would be blocked by i's move
        for d in range(4):
            u = neighbour(H, W, cur, d)
            if u < 0 or not pass_u[u]:
                continue
            k = occ_now[u]
            if (
                k != NO_AGENT
                and c0 != pos_lin[k]
                and is_swap_required(
                    H, W, k, i, cur, c0, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u
                )
                and is_swap_possible(H, W, c0, cur, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u)
            ):
                return k
    return NO_AGENT


@numba.njit(**NUMBA_OPTS)
def visit(
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
    next_lin,
    tie,
    use_swap,
    push_penalty,
    stall,
    stall_div,
    pusher,
    cand,
    ncand,
    cidx,
    swap_with,
    keys,
    near,
):
    """First visit of unit ``i`` in a step: rank its cells, and reverse them if it must pull a unit."""
    fill_candidates(
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
        direction_between(W, pos_lin[pusher], pos_lin[i]) if pusher != NO_AGENT else -1,
        push_penalty,
        stall,
        stall_div,
        cand,
        ncand,
        keys,
        near,
    )
    cidx[i] = 0
    swap_with[i] = NO_AGENT
    if use_swap:
        s = find_swap_agent(H, W, i, cand, next_lin, occ_now, pos_lin, goal_slot, cell_index, tables, pass_u)
        if s != NO_AGENT:
            swap_with[i] = s
            # move away first: farthest from the goal first (Okumura reverses the order); among
            # equally far cells the one needing fewest rotations, so the choice is stable while the
            # unit turns (a plain reversal would prefer the most rotations, and livelock)
            n = ncand[i]
            cur = pos_lin[i]
            for a in range(n):
                v = cand[i, a]
                if v == cur:
                    keys[a] = -16 * cell_distance(v, cur, goal_slot[i], cell_index, tables) + tie[i, 4]
                else:
                    d = direction_between(W, cur, v)
                    keys[a] = (
                        -16 * cell_distance(v, cur, goal_slot[i], cell_index, tables)
                        + 4 * turn_steps(heading[i], d)
                        + tie[i, d]
                    )
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


@numba.njit(**NUMBA_OPTS)
def _pull(i, pos_lin, next_lin, occ_next, cidx, swap_with, loaded, pass_u, pass_l):
    """After ``i`` secured its first (reversed) choice, its swap partner follows into ``i``'s cell."""
    s = swap_with[i]
    if s == NO_AGENT or cidx[i] != 1 or next_lin[s] != NO_AGENT or occ_next[pos_lin[i]] != NO_AGENT:
        return
    if pass_l[pos_lin[i]] if loaded[s] else pass_u[pos_lin[i]]:
        next_lin[s] = pos_lin[i]
        occ_next[pos_lin[i]] = s


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
    use_swap,
    push_penalty,
    stall,
    stall_div,
    occ_now,
    occ_next,
    next_lin,
    cand,
    ncand,
    cidx,
    stack,
    swap_with,
    out_actions,
):
    """One PIBT step with rotation-aware conversion to F/R/C/W actions.

    Inputs: pos_lin int32[N], heading int8[N], goal_slot int32[N] (-1 no goal), loaded/active bool[N],
    pass_u/pass_l bool[H*W], cell_index int32[H*W] (a cell's table entry, -1 outside the map),
    tables uint16[S, n_cells] or, rotation-aware, uint16[S, 5 * n_cells] (the stride follows from
    the shapes; see `fctwin.controller.planning.distance`), move_cost uint8[n_cells, 4] (guidance), order
    int32[N] (units by decreasing priority), tie int8[N, 5] (random 0..3 per neighbour direction and
    stay), use_swap bool (PIBT swap/pull for corridors), push_penalty int, stall int32[N] (steps
    without progress) and stall_div int (see fill_candidates).
    Scratch (any contents on entry except occ_now/occ_next, which must be all -1 and are left all -1):
    occ_now/occ_next int32[H*W], next_lin int32[N],
    cand int32[N, 5], ncand/cidx/stack/swap_with int32[N]. Output: out_actions int8[N].
    """
    N = pos_lin.shape[0]
    keys = np.empty(N_CAND, np.int64)  # candidate keys, shared by every visit (one allocation a step)
    near = np.empty((N, N_CAND), np.int32)
    for i in range(N):
        occ_now[pos_lin[i]] = i
        next_lin[i] = NO_AGENT
        ncand[i] = -1
    # table entries per cell: 1, or 5 for rotation-aware tables (move_cost has one row per cell)
    stride = tables.shape[1] // max(move_cost.shape[0], 1)
    near_distances(
        H, W, pos_lin, heading, goal_slot, loaded, active, pass_u, pass_l, cell_index, tables, move_cost,
        occ_now, stride, near,
    )  # fmt: skip
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
        visit(
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
            next_lin,
            tie,
            use_swap,
            push_penalty,
            stall,
            stall_div,
            NO_AGENT,
            cand,
            ncand,
            cidx,
            swap_with,
            keys,
            near,
        )
        ret = -1  # -1 fresh / resumed after a child failed, 1 child succeeded
        while sp >= 0:
            i = stack[sp]
            if ret == 1:  # success propagates straight up
                _pull(i, pos_lin, next_lin, occ_next, cidx, swap_with, loaded, pass_u, pass_l)
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
                    visit(
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
                        next_lin,
                        tie,
                        use_swap,
                        push_penalty,
                        stall,
                        stall_div,
                        i,
                        cand,
                        ncand,
                        cidx,
                        swap_with,
                        keys,
                        near,
                    )
                    pushed = True
                else:
                    ok = True
                break
            if pushed:
                ret = -1
                continue
            if ok:
                _pull(i, pos_lin, next_lin, occ_next, cidx, swap_with, loaded, pass_u, pass_l)
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


# LCG modulus 2**31 (glibc constants): products stay below 2**62, so the arithmetic is identical in
# numba and in plain Python (NUMBA_DISABLE_JIT) and never overflows int64
_LCG_A = 1103515245
_LCG_C = 12345
_LCG_MASK = (1 << 31) - 1


@numba.njit(**NUMBA_OPTS)
def prepare_kernel(
    H,
    W,
    pos,
    goal,
    key_slot,
    slot_version,
    slot_built,
    slot_last_used,
    map_version_loaded,
    refresh_steps,
    step,
    loaded,
    elapsed,
    stall,
    prev_pos,
    prev_goal,
    tie_frac,
    tie_order,
    rng_state,
    pos_lin,
    goal_lin,
    goal_slot,
    prio,
    order,
    tie,
):
    """Per-step inputs of `pibt_step_kernel`, in one pass (the Python version cost 0.3 ms for 30 units).

    pos, goal int32[N, 2] (row, col; goal -1 = none). Looks up each unit's distance-table slot in
    ``key_slot`` (key = loaded * H*W + goal cell) and marks the slot used at ``step``; updates the
    priorities (``elapsed``: steps since the goal was set or last reached), the stall counters and
    ``order`` (units by decreasing priority, ties by the fixed ``tie_frac``, whose decreasing order
    is ``tie_order``; see `order_by_priority`), and draws ``tie``
    (int8[N, 5], 0..3) from the LCG state ``rng_state`` (int64[1]). Returns -1 if a unit is outside
    the grid, otherwise the number of units whose table is missing or stale (the caller then builds
    them, see `DistanceTables.slots_for`); ``goal_slot`` is -1 for those.
    """
    N = pos.shape[0]
    hw = H * W
    need = 0
    s = rng_state[0]
    for i in range(N):
        r = pos[i, 0]
        c = pos[i, 1]
        if r < 0 or r >= H or c < 0 or c >= W:
            return -1
        p = r * W + c
        pos_lin[i] = p
        g = -1
        if goal[i, 0] >= 0:
            g = goal[i, 0] * W + goal[i, 1]
        goal_lin[i] = g
        slot = -1
        if g >= 0:
            key = hw + g if loaded[i] else g
            slot = key_slot[key]
            stale = key >= hw and slot >= 0 and slot_version[slot] < map_version_loaded
            if stale and step - slot_built[slot] >= refresh_steps:
                slot = -1  # stale: rebuilt by the caller
            if slot < 0:
                need += 1
            else:
                slot_last_used[slot] = step
        goal_slot[i] = slot
        fresh = g != prev_goal[i] or g == p
        if fresh:
            elapsed[i] = 0
        else:
            elapsed[i] += 1
        if fresh or p != prev_pos[i] or g < 0:
            stall[i] = 0
        else:
            stall[i] += 1
        prev_pos[i] = p
        prev_goal[i] = g
        if g >= 0:
            prio[i] = -(elapsed[i] + tie_frac[i])
        else:
            prio[i] = -(tie_frac[i] - 1.0)
        s = (s * _LCG_A + _LCG_C) & _LCG_MASK
        bits = s >> 16  # the high 15 bits of the state
        for k in range(5):
            tie[i, k] = (bits >> (2 * k)) & 3
    rng_state[0] = s
    order_by_priority(goal_lin, elapsed, tie_order, order)
    return need


@numba.njit(**NUMBA_OPTS)
def order_by_priority(goal_lin, elapsed, tie_order, order):
    """Units by decreasing priority into ``order`` (int32[N]): a counting sort on ``elapsed``.

    The order is that of a stable sort on ``prio`` as set in `prepare_kernel`: units with a goal by
    decreasing ``elapsed`` (int64[N]), then units without a goal; within a key, in ``tie_order``
    (int32[N], units by decreasing ``tie_frac``). Priorities are small bounded ints (steps since a
    goal was set), so this is O(N + max elapsed) instead of numba's mergesort argsort on floats
    (0.9-1.1 ms for 10,000 units, a tenth of a warehouse_large step). Falls back to that argsort
    if some unit has waited more than ``4 N + 1024`` steps, which bounds the count array.
    """
    N = goal_lin.shape[0]
    max_e = 0
    for i in range(N):
        if goal_lin[i] >= 0 and elapsed[i] > max_e:
            max_e = elapsed[i]
    if max_e > 4 * N + 1024:
        prio = np.empty(N, np.float64)
        rank = np.empty(N, np.float64)
        for k in range(N):
            rank[tie_order[k]] = k
        for i in range(N):
            # key = (no goal, -elapsed, rank), lexicographic, as one exact float (all terms < 2**52)
            e = max_e + 1 if goal_lin[i] < 0 else max_e - elapsed[i]
            prio[i] = e * N + rank[i]
        order[:] = np.argsort(prio, kind="mergesort")
        return
    nb = max_e + 2  # buckets: elapsed max_e .. 0 for units with a goal, then units without one
    start = np.zeros(nb + 1, np.int64)
    for i in range(N):
        b = max_e + 1 if goal_lin[i] < 0 else max_e - elapsed[i]
        start[b + 1] += 1
    for b in range(nb):
        start[b + 1] += start[b]
    for k in range(N):  # in tie order, so each bucket keeps it (a stable counting sort)
        i = tie_order[k]
        b = max_e + 1 if goal_lin[i] < 0 else max_e - elapsed[i]
        order[start[b]] = i
        start[b] += 1
