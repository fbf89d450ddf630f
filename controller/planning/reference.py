"""Readable pure-Python reference of one planner step (same outputs as `_kernels.pibt_step_kernel`).

Written for reading and for testing the kernel, not for speed (about 1,000x slower). It follows
pypibt's ``funcPIBT`` (recursive priority inheritance) and then turns the planned next cells into
rotation-model actions exactly as the kernel does.
"""

from __future__ import annotations

import numpy as np

F, R, C, W_ = 0, 1, 2, 3  # actions (W_ so as not to clash with the grid width W)
DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # row/col step of headings E, S, W, N


def reference_step(
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
) -> np.ndarray:
    """Return ``int8[N]`` actions for one step; arguments as in `pibt_step_kernel` (no scratch)."""
    n = len(pos_lin)
    cur = [int(p) for p in pos_lin]

    def dist(u: int, i: int) -> int:
        if goal_slot[i] < 0:
            return 0 if u == cur[i] else 1
        ci = cell_index[u]
        return 65535 if ci < 0 else int(tables[goal_slot[i], ci])

    stopped = {cur[i] for i in range(n) if not active[i]}

    def candidates(i: int) -> list[int]:
        """Stay and passable neighbours, best first (costs as documented in the kernel)."""
        moves = []
        r, c = divmod(cur[i], W)
        passable = pass_l if loaded[i] else pass_u
        for d, (dr, dc) in enumerate(DELTA):
            rr, cc = r + dr, c + dc
            if not (0 <= rr < H and 0 <= cc < W) or not passable[rr * W + cc]:
                continue
            if rr * W + cc in stopped:
                continue  # stopped units are obstacles
            turns = min((d - int(heading[i])) % 4, (int(heading[i]) - d) % 4)
            ci = cell_index[cur[i]]
            step_cost = int(move_cost[ci, d]) if ci >= 0 and goal_slot[i] >= 0 else 1
            moves.append((turns + step_cost + dist(rr * W + cc, i), int(tie[i, d]), rr * W + cc))
        d_cur = dist(cur[i], i)
        if d_cur == 0:
            stay_cost = 0
        else:
            stay_cost = 1 + (min(m[0] for m in moves) if moves else d_cur)
        scored = [(8 * stay_cost + 4, 0, cur[i])]
        scored += [(8 * cost + t, k + 1, v) for k, (cost, t, v) in enumerate(moves)]
        scored.sort()  # the kernel's insertion sort is stable too: ties keep insertion order
        return [v for _, _, v in scored]

    occ_now = {cur[i]: i for i in range(n)}
    occ_next: dict[int, int] = {}
    nxt: list[int | None] = [None] * n
    cands: dict[int, list[int]] = {}
    for i in range(n):
        if not active[i]:  # stopped or failed units are obstacles
            nxt[i] = cur[i]
            occ_next[cur[i]] = i

    def pibt(i: int) -> bool:
        cands[i] = candidates(i)
        for v in cands[i]:
            if v in occ_next:
                continue
            j = occ_now.get(v)
            if j is not None and nxt[j] == cur[i]:
                continue  # swap
            nxt[i] = v
            occ_next[v] = i
            if j is not None and j != i and nxt[j] is None and not pibt(j):
                continue
            return True
        nxt[i] = cur[i]
        occ_next[cur[i]] = i
        return False

    for i in order:
        if nxt[i] is None:
            pibt(int(i))

    actions = np.full(n, W_, np.int8)
    for i in range(n):
        if not active[i]:
            continue
        target = nxt[i]
        if target == cur[i]:
            target = cands[i][0]  # blocked: turn towards the preferred cell meanwhile
            if target == cur[i]:
                continue
        (r, c), (tr, tc) = divmod(cur[i], W), divmod(target, W)
        d = DELTA.index((tr - r, tc - c))  # heading that faces the target cell
        t = (d - int(heading[i])) % 4
        if t == 0:
            actions[i] = F if nxt[i] != cur[i] else W_
        elif t == 1:
            actions[i] = R
        elif t == 3:
            actions[i] = C
        else:
            actions[i] = R if tie[i, 4] % 2 == 0 else C

    # a unit that turns keeps its cell; units planning to enter it wait (fixed point of the chain)
    changed = True
    while changed:
        changed = False
        final = {cur[i] if actions[i] != F else nxt[i]: i for i in range(n) if actions[i] != F}
        for k in range(n):
            if actions[k] == F and nxt[k] in final:
                actions[k] = W_
                changed = True
    return actions
