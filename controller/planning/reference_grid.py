"""Readable pure-Python reference of one grid-model PIBT step (same outputs as `grid_pibt_step_kernel`).

For reading and for testing the kernel, not for speed. It follows pypibt's ``funcPIBT`` (Okumura:
recursive priority inheritance with backtracking) on the 4-connected model, with the candidate
ranking documented in `fctwin.controller.planning._grid_kernels.grid_fill_candidates`.
"""

from __future__ import annotations

import numpy as np

WAIT = 4  # grid actions: 0 right, 1 down, 2 left, 3 up (the heading of the move), 4 wait
DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # row/col step of actions 0..3


def reference_grid_step(
    H: int,
    W: int,
    pos_lin: np.ndarray,
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
    push_penalty: int = 0,
    stall: np.ndarray | None = None,
    stall_div: int = 0,
    plan_next: np.ndarray | None = None,
) -> np.ndarray:
    """Return ``int8[N]`` actions for one step; arguments as in `grid_pibt_step_kernel` (no scratch).

    ``plan_next[i]`` >= 0 (a windowed plan's next cell, `reference_window`) ranks that cell first.
    """
    n = len(pos_lin)
    cur = [int(p) for p in pos_lin]
    stopped = {cur[i] for i in range(n) if not active[i]}

    def dist(u: int, i: int) -> int:
        """Guided distance from cell ``u`` to unit i's goal; without a goal its own cell is the goal."""
        if goal_slot[i] < 0:
            return 0 if u == cur[i] else 1
        ci = cell_index[u]
        return 65535 if ci < 0 else int(tables[goal_slot[i], ci])

    def candidates(i: int, pusher: int | None) -> list[int]:
        """Stay and allowed neighbours, best first."""
        r, c = divmod(cur[i], W)
        passable = pass_l if loaded[i] else pass_u
        moves = []  # (cost, ranked cost, occupied, tie, cell)
        for d, (dr, dc) in enumerate(DELTA):
            rr, cc = r + dr, c + dc
            v = rr * W + cc
            if not (0 <= rr < H and 0 <= cc < W) or not passable[v] or v in stopped:
                continue
            ci = cell_index[cur[i]]
            step_cost = int(move_cost[ci, d]) if ci >= 0 and goal_slot[i] >= 0 else 1
            cost = step_cost + dist(v, i)
            # pushed straight on, the pusher follows: stepping aside may be better (push_penalty)
            straight_on = pusher is not None and cur[i] - cur[pusher] == v - cur[i]
            ranked = cost + (push_penalty if straight_on else 0)
            # equal costs: a cell nobody stands on first (no push needed), then the random tie
            moves.append((cost, ranked, 1 if v in occ_now else 0, int(tie[i, d]), v))
        d_cur = dist(cur[i], i)
        if d_cur == 0:
            stay = 0
        elif not moves:
            stay = 1 + d_cur
        else:  # wait one step, then take the best move; dearer after a long stall
            stall_steps = int(stall[i]) // stall_div if stall_div > 0 else 0
            stay = 1 + stall_steps + min(m[0] for m in moves)
        # the stay counts as occupied with tie 4: equal costs favour moving
        scored = [((stay, 1, 4), 0, cur[i])]
        scored += [((ranked, occ, t), k + 1, v) for k, (_, ranked, occ, t, v) in enumerate(moves)]
        if plan_next is not None and plan_next[i] >= 0:  # the plan's cell first, the rest as ranked
            scored = [((-1, 0, 0), k, v) if v == plan_next[i] else (key, k, v) for key, k, v in scored]
        scored.sort()  # stable on equal keys, as the kernel's insertion sort
        return [v for _, _, v in scored]

    occ_now = {cur[i]: i for i in range(n)}
    occ_next: dict[int, int] = {}
    nxt: list[int | None] = [None] * n
    for i in range(n):
        if not active[i]:  # stopped or failed units are obstacles
            nxt[i] = cur[i]
            occ_next[cur[i]] = i

    def pibt(i: int, pusher: int | None = None) -> bool:
        for v in candidates(i, pusher):
            if v in occ_next:
                continue
            j = occ_now.get(v)
            if j is not None and nxt[j] == cur[i]:
                continue  # would swap with j
            nxt[i] = v
            occ_next[v] = i
            if j is not None and j != i and nxt[j] is None and not pibt(j, i):
                continue  # j could not make room: try the next cell
            return True
        nxt[i] = cur[i]
        occ_next[cur[i]] = i
        return False

    for i in order:
        if nxt[int(i)] is None:
            pibt(int(i))

    actions = np.full(n, WAIT, np.int8)
    for i in range(n):
        if active[i] and nxt[i] != cur[i]:
            (r, c), (tr, tc) = divmod(cur[i], W), divmod(nxt[i], W)
            actions[i] = DELTA.index((tr - r, tc - c))
    return actions


def reference_flow_field(
    H: int, W: int, passable: np.ndarray, goal: int, base_cost: np.ndarray, flow: np.ndarray, flow_weight: int
) -> np.ndarray:
    """Readable twin of `fctwin.controller.planning._flow_kernels.flow_field`: returns ``uint16[H*W]``.

    Dijkstra from the goal over reversed moves: entering ``v`` from its neighbour ``u`` along heading
    d costs ``base_cost[u, d] + flow_weight * flow[v, opposite of d]`` (moves planned ``v -> u``).
    """
    import heapq

    dist = {goal: 0}
    heap = [(0, goal)]
    done = set()
    while heap:
        dv, v = heapq.heappop(heap)
        if v in done:
            continue
        done.add(v)
        r, c = divmod(v, W)
        for d, (dr, dc) in enumerate(DELTA):
            ur, uc = r - dr, c - dc  # u moves along d into v
            if not (0 <= ur < H and 0 <= uc < W) or not passable[ur * W + uc]:
                continue
            u = ur * W + uc
            nd = dv + int(base_cost[u, d]) + flow_weight * int(flow[v, (d + 2) % 4])
            if nd < dist.get(u, 1 << 40):
                dist[u] = nd
                heapq.heappush(heap, (nd, u))
    out = np.full(H * W, 65535, np.uint16)
    for u, du in dist.items():
        out[u] = min(du, 65535)
    return out


def reference_guide_path(
    H: int, W: int, passable: np.ndarray, field: np.ndarray, start: int, base_cost: np.ndarray,
    flow: np.ndarray, flow_weight: int,
) -> list[tuple[int, int]]:  # fmt: skip
    """Readable twin of `fctwin.controller.planning._flow_kernels.guide_path`: the (cell, heading) moves
    of the field's steepest descent from ``start`` (first heading on ties), None if unreachable."""
    if field[start] >= 65535:
        return None
    path, u = [], start
    while field[u] > 0:
        r, c = divmod(u, W)
        for d, (dr, dc) in enumerate(DELTA):
            vr, vc = r + dr, c + dc
            if not (0 <= vr < H and 0 <= vc < W) or not passable[vr * W + vc]:
                continue
            v = vr * W + vc
            w = int(base_cost[u, d]) + flow_weight * int(flow[v, (d + 2) % 4])
            if field[v] < 65535 and int(field[v]) + w == int(field[u]):
                path.append((u, d))
                u = v
                break
    return path
