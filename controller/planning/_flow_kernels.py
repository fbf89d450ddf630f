"""numba kernels of contraflow-priced guide fields for the grid model (`GridPIBTPlanner` ``flow_weight``).

Static one-way rules (`fctwin.controller.planning.guidance`) stop head-on meetings in narrow passages
but send every unit round the long way, crowded or not. Here a unit that gets a new goal instead
prices each move by the traffic planned against it: moving from ``u`` to its neighbour ``v`` costs
``base_cost[u, d] + flow_weight * flow[v, back]``, where ``flow[v, back]`` counts the moves ``v -> u``
on the other units' guide paths (the contraflow), as in the traffic-flow guidance of Chen et al.,
"Traffic flow optimisation for lifelong multi-agent path finding" (AAAI 2024), which the LoRR 2024
start kit ships. The unit then follows the distance field of those costs (frozen for its task),
and its own guide path (the field's steepest descent from where it stands) is added to ``flow``.

Cells are linear indices ``row * W + col``; headings 0 E, 1 S, 2 W, 3 N. Readable twin:
`fctwin.controller.planning.reference_grid.reference_flow_field`.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning._kernels import neighbour
from fctwin.controller.planning.numba_config import NUMBA_OPTS

UNREACHED = 65535


@numba.njit(**NUMBA_OPTS)
def flow_field(H, W, passable, goal, base_cost, flow, flow_weight, out):
    """Distance from every cell to ``goal`` under contraflow-priced move costs, into ``out``.

    passable bool[H*W]; goal int cell; base_cost uint8[H*W, 4] (guidance, >= 1); flow int32[H*W, 4]
    (guide-path moves per cell and heading); flow_weight int >= 0. out uint16[H*W]: the cheapest
    cost to reach ``goal`` (``UNREACHED`` where it cannot, or beyond 65534). Dijkstra backwards from
    the goal with a binary heap keyed by (cost, cell), so ties settle in cell order.
    """
    n = H * W
    big = np.int64(1) << 40
    dist = np.full(n, big, np.int64)
    heap = np.empty(4 * n + 1, np.int64)  # keys cost * n + cell; each cell is pushed at most 4 times
    size = 0
    dist[goal] = 0
    heap[0] = goal
    size = 1
    while size > 0:
        key = heap[0]
        size -= 1
        last = heap[size]
        # sift the last key down from the root
        k = 0
        while True:
            a = 2 * k + 1
            if a >= size:
                break
            b = a + 1
            if b < size and heap[b] < heap[a]:
                a = b
            if heap[a] < last:
                heap[k] = heap[a]
                k = a
            else:
                break
        if size > 0:
            heap[k] = last
        v = key % n
        dv = key // n
        if dv > dist[v]:
            continue  # a stale entry
        for d in range(4):
            u = neighbour(H, W, v, (d + 2) % 4)  # u moves along heading d into v
            if u < 0 or not passable[u]:
                continue
            w = np.int64(base_cost[u, d]) + flow_weight * np.int64(flow[v, (d + 2) % 4])
            nd = dv + w
            if nd < dist[u]:
                dist[u] = nd
                # sift up the new key
                item = nd * n + u
                k = size
                size += 1
                while k > 0:
                    p = (k - 1) // 2
                    if heap[p] > item:
                        heap[k] = heap[p]
                        k = p
                    else:
                        break
                heap[k] = item
    for u in range(n):
        out[u] = dist[u] if dist[u] < UNREACHED else UNREACHED


@numba.njit(**NUMBA_OPTS)
def guide_path(H, W, passable, field, start, base_cost, flow, flow_weight, out_cells, out_dirs):
    """Steepest descent of ``field`` (from `flow_field`, same costs) from ``start`` to its goal.

    Writes the cells left and the headings taken into ``out_cells`` / ``out_dirs`` (int32[H*W]) and
    returns the number of moves (0 at the goal, -1 if ``start`` cannot reach it). At each cell the
    first heading (0 E .. 3 N) whose move cost plus the neighbour's field equals the cell's field.
    """
    if field[start] >= UNREACHED:
        return -1
    u = start
    m = 0
    while field[u] > 0 and m < out_cells.shape[0]:
        nxt = -1
        for d in range(4):
            v = neighbour(H, W, u, d)
            if v < 0 or not passable[v] or field[v] >= UNREACHED:
                continue
            w = np.int64(base_cost[u, d]) + flow_weight * np.int64(flow[v, (d + 2) % 4])
            if np.int64(field[v]) + w == np.int64(field[u]):
                nxt = v
                out_dirs[m] = d
                break
        if nxt < 0:
            return -1  # not a field of these costs (cannot happen for one just built)
        out_cells[m] = u
        m += 1
        u = nxt
    return m


@numba.njit(**NUMBA_OPTS)
def advance_paths(pos_lin, goal_lin, known_goal, path_cells, path_dirs, path_len, path_ptr, flow, look):
    """Release the guide-path moves each unit has left behind; drop whole paths whose goal changed.

    A unit found on its own path within ``look`` cells past its pointer has passed the moves before
    that cell: their ``flow`` counts are removed. A unit whose goal differs from ``known_goal``
    releases all its remaining moves (``path_ptr = path_len``); the caller plans it afresh.
    Returns the number of units whose goal changed.
    """
    changed = 0
    for i in range(pos_lin.shape[0]):
        p = path_ptr[i]
        n = path_len[i]
        if goal_lin[i] != known_goal[i]:
            for j in range(p, n):
                flow[path_cells[i, j], path_dirs[i, j]] -= 1
            path_ptr[i] = n
            changed += 1
            continue
        end = min(n, p + look)
        at = -1
        if pos_lin[i] == goal_lin[i]:
            at = n
        else:
            for j in range(p, end):
                if path_cells[i, j] == pos_lin[i]:
                    at = j
                    break
        if at > p:
            for j in range(p, at):
                flow[path_cells[i, j], path_dirs[i, j]] -= 1
            path_ptr[i] = at
    return changed
