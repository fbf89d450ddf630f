"""numba kernel of windowed prioritized planning for the grid model: each unit's planned next cell.

PIBT (`fctwin.controller.planning._grid_kernels`) looks one step ahead: two units meeting head-on
find out when they stand nose to nose, and one is pushed back or aside. RHCR (Li et al., AAAI 2021)
plans every unit's path over a window of ``w`` steps instead, with conflicts resolved inside the
window. Here, before each PIBT step, the units plan in PIBT's priority order, each over ``window``
steps against the space-time reservations of the units planned before it (Silver's cooperative A*,
2005, made exact by the window: the states (time, cell) form a layered graph, so one forward pass
in time finds each state's least cost). A path's cost is the sum of its moves' guided costs (the
guidance's move costs), one per wait, and at the window's end the guided distance still to go; a
path that reaches the goal ends there. Each unit then reserves its path (vertex and swap: a later
unit may not enter a reserved cell at that time nor exchange cells with a reserving unit; following
a unit into the cell it leaves is allowed, as in the model). Stopped units reserve their cell
throughout; units without a goal and units that find no path reserve nothing and get no plan.

Only the first cell of each plan is used: it becomes the unit's first choice in the PIBT step
(``plan_next``), which still decides every move, so the step stays conflict-free by PIBT's own
argument whatever the plans say, and the top unit (planned first, nothing reserved) plans a
guided shortest path and keeps PIBT's progress. The work is bounded by counts (window x reachable
cells per unit), never by a clock.

Ties (equal costs): a state's predecessor is, in this order, waiting there, then the moves E, S, W,
N; the first of equal cost is kept, so read back from the end a path waits as late as it can
(moves first, the plan is redone next step anyway). Among end states the first of least cost wins:
goal arrivals from the earliest time, then the window's last layer in the order it was reached.

Readable twin: `fctwin.controller.planning.reference_window.reference_window_plans`.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning._kernels import neighbour
from fctwin.controller.planning.numba_config import NUMBA_OPTS

FAR = 65535  # table entry of a cell the goal cannot be reached from


@numba.njit(**NUMBA_OPTS)
def window_plans_kernel(
    H, W, pos_lin, goal_lin, goal_slot, loaded, active, pass_u, pass_l, cell_index, tables, move_cost,
    order, window, res_id, res_stamp, g, g_stamp, parent, layer, layer_n, stamps, plan_next,
):  # fmt: skip
    """Plan every unit over ``window`` steps in ``order``; write each unit's planned next cell.

    Inputs as `grid_pibt_step_kernel` (``goal_lin`` int32[N]: goal cell, -1 none) plus ``window``
    (steps, >= 1). Scratch, allocated once: ``res_id``/``res_stamp``/``g``/``g_stamp``/``parent``
    int32 / int64 / int32 / int64 / int32 ``[window + 1, H*W]``, ``layer`` int32[window + 1, H*W],
    ``layer_n`` int32[window + 1], ``stamps`` int64[2] (step and search counters, carried between
    calls so nothing is cleared). Output: ``plan_next`` int32[N], the planned cell at the next step
    (the unit's own cell for a wait), -1 for no plan.
    """
    N = pos_lin.shape[0]
    stamps[0] += 1
    step = stamps[0]
    for i in range(N):
        plan_next[i] = -1
        if not active[i]:  # an obstacle for the whole window
            for t in range(window + 1):
                res_stamp[t, pos_lin[i]] = step
                res_id[t, pos_lin[i]] = i
    for oi in range(N):
        i = order[oi]
        slot = goal_slot[i]
        if not active[i] or slot < 0 or goal_lin[i] < 0:
            continue
        start = pos_lin[i]
        goal = goal_lin[i]
        stamps[1] += 1
        sid = stamps[1]
        g_stamp[0, start] = sid
        g[0, start] = 0
        layer[0, 0] = start
        layer_n[0] = 1
        best = np.int64(1) << 40
        best_t = -1
        best_cell = -1
        last = 0  # last layer reached
        for t in range(window):
            layer_n[t + 1] = 0
            for k in range(layer_n[t]):
                u = layer[t, k]
                if u == goal and t > 0:
                    continue  # the path ends at the goal
                gu = g[t, u]
                cu = cell_index[u]
                for d in range(5):  # 4 = wait first, so equal costs keep the wait as the predecessor
                    dd = 4 if d == 0 else d - 1
                    if dd == 4:
                        v = u
                        cost = np.int64(1)
                    else:
                        v = neighbour(H, W, u, dd)
                        if v < 0 or not (pass_l[v] if loaded[i] else pass_u[v]):
                            continue
                        cost = np.int64(move_cost[cu, dd]) if cu >= 0 else np.int64(1)
                    if res_stamp[t + 1, v] == step:
                        continue  # vertex: reserved by a unit planned before
                    held = v != u and res_stamp[t, v] == step and res_stamp[t + 1, u] == step
                    if held and res_id[t, v] == res_id[t + 1, u]:
                        continue  # a swap with the unit holding v now and u next
                    ng = gu + cost
                    if g_stamp[t + 1, v] != sid:
                        g_stamp[t + 1, v] = sid
                        g[t + 1, v] = ng
                        parent[t + 1, v] = u
                        layer[t + 1, layer_n[t + 1]] = v
                        layer_n[t + 1] += 1
                    elif ng < g[t + 1, v]:
                        g[t + 1, v] = ng
                        parent[t + 1, v] = u
            if layer_n[t + 1] == 0:
                break
            last = t + 1
            if g_stamp[t + 1, goal] == sid and g[t + 1, goal] < best:
                best = g[t + 1, goal]
                best_t = t + 1
                best_cell = goal
        if last == window:
            for k in range(layer_n[window]):
                v = layer[window, k]
                cv = cell_index[v]
                h = np.int64(tables[slot, cv]) if cv >= 0 else np.int64(FAR)
                if h >= FAR:
                    continue
                c = g[window, v] + h
                if c < best:
                    best = c
                    best_t = window
                    best_cell = v
        res_stamp[0, start] = step
        res_id[0, start] = i
        if best_t < 0:
            continue
        v = best_cell
        for t in range(best_t, 0, -1):  # read the path back and reserve it
            res_stamp[t, v] = step
            res_id[t, v] = i
            if t == 1:
                plan_next[i] = v
            v = parent[t, v]
