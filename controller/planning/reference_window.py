"""Readable pure-Python twin of `fctwin.controller.planning._window_kernels.window_plans_kernel`.

Windowed prioritized planning for the grid model: units in priority order, each planning a path of
at most ``window`` steps against the space-time reservations of the units before it; the first
cell of each plan is returned. For reading and for testing the kernel, not for speed.
"""

from __future__ import annotations

import numpy as np

DELTA = ((0, 1), (1, 0), (0, -1), (-1, 0))  # E, S, W, N (row, col steps)
FAR = 65535


def reference_window_plans(
    H: int,
    W: int,
    pos_lin: np.ndarray,
    goal_lin: np.ndarray,
    goal_slot: np.ndarray,
    loaded: np.ndarray,
    active: np.ndarray,
    pass_u: np.ndarray,
    pass_l: np.ndarray,
    cell_index: np.ndarray,
    tables: np.ndarray,
    move_cost: np.ndarray,
    order: np.ndarray,
    window: int,
) -> np.ndarray:
    """Return ``int32[N]``: each unit's planned cell at the next step (-1: no plan)."""
    n = len(pos_lin)
    reserved: dict[tuple[int, int], int] = {}  # (time, cell) -> unit
    for i in range(n):
        if not active[i]:  # stopped units hold their cell for the whole window
            for t in range(window + 1):
                reserved[(t, int(pos_lin[i]))] = i
    plan_next = np.full(n, -1, np.int32)

    def moves(u: int, i: int):
        """(next cell, cost) of waiting, then of each allowed move E, S, W, N."""
        yield u, 1
        r, c = divmod(u, W)
        passable = pass_l if loaded[i] else pass_u
        for d, (dr, dc) in enumerate(DELTA):
            rr, cc = r + dr, c + dc
            if 0 <= rr < H and 0 <= cc < W and passable[rr * W + cc]:
                cu = cell_index[u]
                yield rr * W + cc, int(move_cost[cu, d]) if cu >= 0 else 1

    def blocked(t: int, u: int, v: int) -> bool:
        """Moving u (time t) -> v (time t + 1) meets a reservation: vertex, or a swap with its holder."""
        if (t + 1, v) in reserved:
            return True
        return v != u and (t, v) in reserved and reserved.get((t + 1, u)) == reserved[(t, v)]

    for i in (int(x) for x in order):
        if not active[i] or goal_slot[i] < 0 or goal_lin[i] < 0:
            continue
        start, goal = int(pos_lin[i]), int(goal_lin[i])
        # layers[t]: cell -> (least cost, predecessor), in the order cells were first reached
        layers: list[dict[int, tuple[int, int]]] = [{start: (0, -1)}]
        ends: list[tuple[int, int, int]] = []  # (cost, time, cell) in the order found
        for t in range(window):
            nxt: dict[int, tuple[int, int]] = {}
            for u, (gu, _) in layers[t].items():
                if u == goal and t > 0:
                    continue  # a path ends at its goal
                for v, cost in moves(u, i):
                    if blocked(t, u, v):
                        continue
                    if v not in nxt or gu + cost < nxt[v][0]:
                        nxt[v] = (gu + cost, u)
            if not nxt:
                break
            layers.append(nxt)
            if goal in nxt:
                ends.append((nxt[goal][0], t + 1, goal))
        if len(layers) == window + 1:
            for v, (gv, _) in layers[window].items():
                ci = cell_index[v]
                h = int(tables[goal_slot[i], ci]) if ci >= 0 else FAR
                if h < FAR:
                    ends.append((gv + h, window, v))
        reserved[(0, start)] = i
        if not ends:
            continue
        best = min(ends, key=lambda e: e[0])  # the first of least cost
        _, t_end, v = best
        for t in range(t_end, 0, -1):
            reserved[(t, v)] = i
            if t == 1:
                plan_next[i] = v
            v = layers[t][v][1]
    return plan_next
