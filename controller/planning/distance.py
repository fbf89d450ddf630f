"""Lazy, bounded cache of exact grid distances to goal cells (reverse breadth-first search).

PIBT ranks each unit's next cells by the true shortest-path distance to its goal, so every goal needs
one distance table. The LoRR 2024 start kit kept one full table per goal and peaked at 15.8 GB on
warehouse_large. Here tables are

- *lazy*: computed the first step a goal is asked for (one BFS, ~0.2 ms on a 140 x 500 map);
- *compact*: ``uint16`` over the cells that were passable at reset only (38,586 of 70,000 cells on
  warehouse_large: 77 kB per table instead of 280 kB for ``int32[H, W]``);
- *bounded*: at most ``max_tables`` tables; the least recently used one is recycled;
- *per load class*: loaded units route over ``passable_loaded``, unloaded ones over
  ``passable_unloaded``; the goal cell itself always counts as passable (a loaded unit returns a
  pod to its own storage cell);
- *tiled*: compact cells are numbered in 8 x 8 tiles, so the five entries one unit reads per step
  (its cell and four neighbours) mostly share a cache line;
- optionally *rotation-aware* (``headings=True``): five entries per cell, the steps from each
  (cell, heading) state under the F/R/C/W model and their minimum (`_state_fill_kernel`).

Tables are heuristics only: safety never depends on them (the step kernel checks the current
maps). When a cell that was passable at reset changes state (an aisle is closed or reopened) the
tables of that load class are dropped and recomputed on demand, so routes avoid the blocked aisle
from the next step. Cells that were closed at reset and get opened later (the dispatcher opening a
storage cell for the pod it returns) do not flush anything.

A stale loaded table is *repaired*, not searched again (`_repair_kernel`): the cells whose loaded
state flipped since the table was built are kept in a log, and only the part of the table those
flips change is recomputed (dynamic shortest paths: the cells that lose every shortest way to the
goal are reset and searched again from their intact neighbours, opened cells are searched from
theirs). The result is the table a fresh search on the current maps gives, entry for entry, so
routes and event logs do not change; on fc_2000 a few hundred pods move between two rebuilds of a
47,000-cell table and the repair touches a few hundred cells.

With ``bounded_margin`` (plain PIBT's default) a table is searched only as far as the units with its
goal read it, plus a margin, and searched further when one stands beyond (`_bounded_dial_kernel`,
`_settle_kernel`): PIBT reads a unit's table at its cell and neighbours only, and a search stopped at
distance R holds every distance below R exactly, so the actions are those of complete tables. Stale
bounded tables are searched again (bounded) rather than repaired.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning.numba_config import NUMBA_OPTS

DIST_INF = np.uint16(65535)  # unreachable (or outside the reset-time passable set)


@numba.njit(**NUMBA_OPTS)
def _bfs_fill_kernel(nbr, passable_c, goals_c, slots, tables, queue):
    """Fill ``tables[slots[k]]`` with 4-connected distances to compact cell ``goals_c[k]``.

    nbr: int32[n_cells, 4] compact neighbour (-1 none); passable_c: bool[n_cells] for the load class;
    goals_c, slots: int32[K]; tables: uint16[S, n_cells] (written); queue: int32[n_cells] scratch.
    The goal is a source even when it is not passable (a unit may return a pod to its own cell).
    """
    for k in range(goals_c.shape[0]):
        row = tables[slots[k]]
        row[:] = 65535
        g = goals_c[k]
        row[g] = 0
        head = 0
        tail = 1
        queue[0] = g
        while head < tail:
            u = queue[head]
            head += 1
            du = row[u] + 1
            for d in range(4):
                v = nbr[u, d]
                if v >= 0 and row[v] == 65535 and passable_c[v]:
                    row[v] = du
                    queue[tail] = v
                    tail += 1


@numba.njit(**NUMBA_OPTS)
def _dial_fill_kernel(nbr, passable_c, move_cost, goals_c, slots, tables, buckets, bucket_len):
    """Like `_bfs_fill_kernel` with direction-dependent move costs (Dial's bucket queue).

    move_cost: uint8[n_cells, 4], cost of a forward move from a cell in heading d (1..K);
    buckets: int32[B, n_cells] and bucket_len: int32[B] scratch, B a power of two above K.
    Distances saturate at 65534.
    """
    mask = buckets.shape[0] - 1  # a power of two: bucket of distance x is x & mask
    for k in range(goals_c.shape[0]):
        row = tables[slots[k]]
        row[:] = 65535
        g = goals_c[k]
        row[g] = 0
        bucket_len[:] = 0
        buckets[0, 0] = g
        bucket_len[0] = 1
        pending = 1
        dist = 0
        while pending > 0:
            b = dist & mask
            while bucket_len[b] > 0:
                bucket_len[b] -= 1
                u = buckets[b, bucket_len[b]]
                pending -= 1
                if row[u] != dist:
                    continue  # stale entry: u was settled closer
                for d in range(4):
                    v = nbr[u, d]
                    if v < 0 or not passable_c[v]:
                        continue
                    nd = dist + move_cost[v, (d + 2) & 3]  # a unit at v moves towards u
                    if nd > 65534:
                        nd = 65534
                    if nd < row[v]:
                        row[v] = nd
                        nb = nd & mask
                        buckets[nb, bucket_len[nb]] = v
                        bucket_len[nb] += 1
                        pending += 1
            dist += 1


@numba.njit(**NUMBA_OPTS)
def _state_fill_kernel(nbr, passable_c, move_cost, goals_c, slots, tables, buckets, bucket_len):
    """Rotation-aware tables: steps from every (cell, heading) state to compact cell ``goals_c[k]``.

    Row layout ``uint16[5 * n_cells]``: entries ``5c + h`` hold the steps from cell c facing heading
    h (0 E, 1 S, 2 W, 3 N) when F moves one cell at ``move_cost[c, h]`` and R/C turn 90 degrees at
    cost 1; entry ``5c + 4`` holds their minimum (the cell's distance, read by the swap logic). Any
    heading at the goal counts. buckets: int32[B, 4 * n_cells] and bucket_len: int32[B] scratch, B
    a power of two above the largest move cost. Reverse Dial search, as `_dial_fill_kernel`.
    """
    mask = buckets.shape[0] - 1
    n_cells = nbr.shape[0]
    for k in range(goals_c.shape[0]):
        row = tables[slots[k]]
        row[:] = 65535
        g = goals_c[k]
        bucket_len[:] = 0
        for h in range(4):
            row[5 * g + h] = 0
            buckets[0, h] = 4 * g + h
        bucket_len[0] = 4
        pending = 4
        dist = 0
        while pending > 0:
            b = dist & mask
            while bucket_len[b] > 0:
                bucket_len[b] -= 1
                st = buckets[b, bucket_len[b]]
                pending -= 1
                u = st >> 2
                h = st & 3
                if row[5 * u + h] != dist:
                    continue  # stale entry
                # a unit at u facing h - 1 turns R (or facing h + 1 turns C) into this state
                for hp in ((h + 3) & 3, (h + 1) & 3):
                    nd = dist + 1
                    if nd < row[5 * u + hp]:
                        row[5 * u + hp] = nd
                        nb = nd & mask
                        buckets[nb, bucket_len[nb]] = 4 * u + hp
                        bucket_len[nb] += 1
                        pending += 1
                # a unit behind u, facing h, moves F into u
                w = nbr[u, (h + 2) & 3]
                if w >= 0 and passable_c[w]:
                    nd = dist + move_cost[w, h]
                    if nd > 65534:
                        nd = 65534
                    if nd < row[5 * w + h]:
                        row[5 * w + h] = nd
                        nb = nd & mask
                        buckets[nb, bucket_len[nb]] = 4 * w + h
                        bucket_len[nb] += 1
                        pending += 1
            dist += 1
        for c in range(n_cells):
            m = row[5 * c]
            for h in range(1, 4):
                if row[5 * c + h] < m:
                    m = row[5 * c + h]
            row[5 * c + 4] = m


@numba.njit(**NUMBA_OPTS)
def _fill_tables(fill_mode, nbr, passable_c, move_cost, goals_c, slots, tables, queue, buckets, bucket_len):
    """Build tables with the search of ``fill_mode``: 0 Dial (guidance costs), 1 BFS, 2 rotation-aware."""
    if fill_mode == 1:
        _bfs_fill_kernel(nbr, passable_c, goals_c, slots, tables, queue)
    elif fill_mode == 2:
        _state_fill_kernel(nbr, passable_c, move_cost, goals_c, slots, tables, buckets, bucket_len)
    else:
        _dial_fill_kernel(nbr, passable_c, move_cost, goals_c, slots, tables, buckets, bucket_len)


@numba.njit(**NUMBA_OPTS)
def _heap_push(heap, n, key):
    """Push ``key`` onto the binary min-heap ``heap[:n]``; returns the new size (``heap`` must have room)."""
    i = n
    heap[i] = key
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return n + 1


@numba.njit(**NUMBA_OPTS)
def _heap_pop(heap, n):
    """Remove the smallest key of ``heap[:n]`` (n > 0); returns (key, new size)."""
    top = heap[0]
    n -= 1
    if n > 0:
        last = heap[n]
        i = 0
        while True:
            child = 2 * i + 1
            if child >= n:
                break
            if child + 1 < n and heap[child + 1] < heap[child]:
                child += 1
            if heap[child] >= last:
                break
            heap[i] = heap[child]
            i = child
        heap[i] = last
    return top, n


@numba.njit(**NUMBA_OPTS)
def _repair_kernel(nbr, live_map, base_cells, move_cost, goal_c, row, changed, mark, heap, touched):
    """Update ``row`` (a distance table to compact cell ``goal_c``, exact for the maps it was built on)
    in place to the exact table for the current maps, after the cells ``changed`` flipped state.

    live_map: bool[H*W], the load class's map now (compact cell c is passable iff
    ``live_map[base_cells[c]]``); changed: int32[K] compact cells whose state differs from the build
    (each once; the goal may be among them and is ignored: it is always a source). mark: uint8[n_cells]
    scratch, all zero on entry and on return; heap: int64[>= 4 * n_cells + 1] scratch; touched:
    int32[n_cells] scratch. Returns the number of cells whose distance was recomputed.

    Distances are the reverse search of `_dial_fill_kernel`: ``row[v] = min over neighbours u of
    row[u] + move_cost[v, e]`` (u = nbr[v, e]) for passable v, 0 at the goal, 65535 if unreachable.
    1. Closing: a closed cell loses its distance; so does every cell all of whose shortest ways
       led through cells that lost theirs (decided in increasing old distance, so a cell's supports
       are decided before it; a support is strictly closer since costs are >= 1).
    2. Those cells and the opened ones take the best distance through an intact neighbour and seed
       a Dijkstra search (a binary heap: seeds lie at any distance), which also lowers the distances
       opened cells shorten. Every cell then holds its exact distance: the intact ones kept a shortest
       way, and the search settles the rest from them in order of distance.
    """
    INF = 65535
    AFFECTED = 1
    DECIDED = 2
    SEEN = 4
    SPREAD = 8
    n_touched = 0
    hn = 0
    # --- 1. which cells lose their distance (old distances in ``row``) ---
    for k in range(changed.shape[0]):
        c = changed[k]
        if c == goal_c:
            continue
        if mark[c] == 0:
            touched[n_touched] = c
            n_touched += 1
        mark[c] |= SEEN
        if not live_map[base_cells[c]]:  # closed: no distance, whatever it was
            mark[c] |= AFFECTED | DECIDED
            if row[c] < INF:
                hn = _heap_push(heap, hn, (np.int64(row[c]) << 32) | c)
    while hn > 0:
        key, hn = _heap_pop(heap, hn)
        x = np.int32(key & 0xFFFFFFFF)
        if mark[x] & DECIDED == 0:
            mark[x] |= DECIDED
            supported = False
            for e in range(4):
                u = nbr[x, e]
                if u >= 0 and mark[u] & AFFECTED == 0 and row[u] < INF and row[x] == row[u] + move_cost[x, e]:
                    supported = True
                    break
            if not supported:
                mark[x] |= AFFECTED
        if mark[x] & (AFFECTED | SPREAD) != AFFECTED:
            continue  # intact, or its neighbours already listed (a cell may be queued more than once)
        mark[x] |= SPREAD
        # x lost its distance: the neighbours that reached the goal through it are candidates
        dx = np.int64(row[x])
        for d in range(4):
            v = nbr[x, d]
            if v < 0 or v == goal_c or mark[v] & DECIDED != 0 or row[v] >= INF:
                continue
            if row[v] == dx + move_cost[v, (d + 2) & 3]:
                if mark[v] == 0:
                    touched[n_touched] = v
                    n_touched += 1
                mark[v] |= SEEN
                hn = _heap_push(heap, hn, (np.int64(row[v]) << 32) | v)
    for k in range(n_touched):
        if mark[touched[k]] & AFFECTED:
            row[touched[k]] = INF
    # --- 2. seeds: affected and opened cells, through their intact neighbours ---
    recomputed = 0
    for k in range(n_touched):
        x = touched[k]
        if not live_map[base_cells[x]]:
            continue
        if mark[x] & AFFECTED == 0 and row[x] < INF:
            continue  # an intact cell (a candidate that kept a support)
        recomputed += 1
        best = INF
        for e in range(4):
            u = nbr[x, e]
            if u >= 0 and row[u] < INF:
                nd = np.int64(row[u]) + move_cost[x, e]
                if nd > 65534:
                    nd = 65534
                if nd < best:
                    best = nd
        if best < row[x]:
            row[x] = best
            hn = _heap_push(heap, hn, (np.int64(best) << 32) | x)
    while hn > 0:
        key, hn = _heap_pop(heap, hn)
        x = np.int32(key & 0xFFFFFFFF)
        dx = key >> 32
        if row[x] != dx:
            continue  # stale entry
        for d in range(4):
            v = nbr[x, d]
            if v < 0 or not live_map[base_cells[v]]:
                continue
            nd = dx + move_cost[v, (d + 2) & 3]
            if nd > 65534:
                nd = 65534
            if nd < row[v]:
                row[v] = nd
                hn = _heap_push(heap, hn, (np.int64(nd) << 32) | v)
    for k in range(n_touched):
        mark[touched[k]] = 0
    return recomputed


@numba.njit(**NUMBA_OPTS)
def _sync_kernel(new_u, new_l, old_u, old_l, base_u, base_l, cell_index, changed_c):
    """Copy the new maps (bool[H*W]) over the old ones; return what changed as bit flags, and how
    many cells were written to ``changed_c``.

    1: ``passable_unloaded`` changed at a cell passable for unloaded units at reset; 2: likewise for
    ``passable_loaded``; 4: any change of ``passable_unloaded``; 8: any change of ``passable_loaded``.
    ``changed_c`` (int32[H*W]) receives the compact index (``cell_index``) of every cell of the
    tables whose ``passable_loaded`` changed, in cell order.
    """
    flags = 0
    n = 0
    for k in range(new_u.shape[0]):
        if new_u[k] != old_u[k]:
            flags |= 4
            if base_u[k]:
                flags |= 1
            old_u[k] = new_u[k]
        if new_l[k] != old_l[k]:
            flags |= 8
            if base_l[k]:
                flags |= 2
            if cell_index[k] >= 0:
                changed_c[n] = cell_index[k]
                n += 1
            old_l[k] = new_l[k]
    return flags, n


@numba.njit(**NUMBA_OPTS)
def _net_changes(log_cells, start, stop, parity, out):
    """Compact cells that flipped an odd number of times in ``log_cells[start:stop]`` (each flip of a
    cell's loaded state is one entry), into ``out``; returns their count. parity: uint8[n_cells]
    scratch, zero on entry and on return."""
    n = 0
    for k in range(start, stop):
        c = log_cells[k]
        if parity[c] == 0:
            out[n] = c  # first flip: listed; a later even count is filtered below
            n += 1
        parity[c] ^= 1
        parity[c] |= 2  # listed
    m = 0
    for k in range(n):
        c = out[k]
        if parity[c] & 1:
            out[m] = c
            m += 1
        parity[c] = 0
    return m


COMPLETE = np.int64(1) << 40  # `slot_radius` of a table searched to the end (every entry exact)


@numba.njit(**NUMBA_OPTS)
def _bounded_dial_kernel(
    nbr, map_lin, base_cells, move_cost, gc, row, targets, min_radius, margin, buckets, bucket_len
):
    """A distance table to compact cell ``gc`` searched only as far as it is read: `_dial_fill_kernel`
    stopped once every cell of ``targets`` (compact cells) is settled and then ``margin`` more, and
    never below ``min_radius``.

    map_lin: bool[H*W], the load class's map (compact cell c is passable iff ``map_lin[base_cells[c]]``).
    Returns the radius R reached: every cell whose distance is <= R holds it, exactly as a full
    search gives it (Dial settles distances in increasing order, and a cell's distance is decided
    by closer cells only, move costs being >= 1), and every other cell holds 65535. Returns
    `COMPLETE` if the search ran out first (then the row is the full table). buckets, bucket_len:
    the scratch of `_dial_fill_kernel`.
    """
    mask = buckets.shape[0] - 1
    row[:] = 65535
    row[gc] = 0
    bucket_len[:] = 0
    buckets[0, 0] = gc
    bucket_len[0] = 1
    pending = 1
    dist = 0
    stop = np.int64(-1)  # the radius to stop at, once every target is settled
    k_t = 0  # targets settled so far (checked in order)
    while pending > 0:
        b = dist & mask
        while bucket_len[b] > 0:
            bucket_len[b] -= 1
            u = buckets[b, bucket_len[b]]
            pending -= 1
            if row[u] != dist:
                continue  # stale entry: u was settled closer
            for d in range(4):
                v = nbr[u, d]
                if v < 0 or not map_lin[base_cells[v]]:
                    continue
                nd = dist + move_cost[v, (d + 2) & 3]  # a unit at v moves towards u
                if nd > 65534:
                    nd = 65534
                if nd < row[v]:
                    row[v] = nd
                    nb = nd & mask
                    buckets[nb, bucket_len[nb]] = v
                    bucket_len[nb] += 1
                    pending += 1
        # every cell at distance <= dist is settled now
        if stop < 0:
            while k_t < targets.shape[0] and row[targets[k_t]] <= dist:
                k_t += 1
            if k_t == targets.shape[0]:
                stop = max(np.int64(dist) + margin, min_radius)
        if stop >= 0 and dist >= stop and pending > 0:
            for bb in range(buckets.shape[0]):  # tentative distances beyond the radius: unknown
                for j in range(bucket_len[bb]):
                    v = buckets[bb, j]
                    if row[v] > dist:
                        row[v] = 65535
            return np.int64(dist)
        dist += 1
    return COMPLETE


@numba.njit(**NUMBA_OPTS)
def _read_cells(H, W, cur, map_lin, cell_index, out, cur_always):
    """The compact cells a PIBT step reads from the table of a unit at ``cur``: its own cell and its
    neighbours passable in ``map_lin``, as `near_distances` reads them (cells off the compact set
    are 65535 in every table and left out). The unit's own cell is read whatever its state; it is
    listed when passable in ``map_lin`` or ``cur_always``. Written to ``out`` (int32[5]); returns
    their count."""
    n = 0
    r = cur // W
    c = cur - r * W
    for d in range(5):
        if d == 0:
            v = cur + 1 if c + 1 < W else -1
        elif d == 1:
            v = cur + W if r + 1 < H else -1
        elif d == 2:
            v = cur - 1 if c > 0 else -1
        elif d == 3:
            v = cur - W if r > 0 else -1
        else:
            v = cur
        if v < 0 or not (map_lin[v] or (d == 4 and cur_always)):
            continue
        ci = cell_index[v]
        if ci >= 0:
            out[n] = ci
            n += 1
    return n


@numba.njit(**NUMBA_OPTS)
def _settle_kernel(
    H, W, pos_lin, goal_slot, slot_key, slot_radius, map_u, map_l, map_t, cell_index, base_cells, nbr,
    move_cost, tables, margin, targets, buckets, bucket_len, log_cells, slot_log_pos, parity, changed,
    max_cost,
):  # fmt: skip
    """Extend the bounded tables (``slot_radius[s] < COMPLETE``) whose units now stand where the
    table does not reach: each such table is searched again from its goal, on the maps it was built
    on, as far as the unit's reads plus ``margin``, never less far than before. Returns the number
    of tables extended.

    An entry of 65535 that a unit reads is unknown to a bounded table if the cell was passable when
    the table was built: the full table may hold a distance there (impassable cells are 65535 in the
    full table too, the goal excepted, which every table holds). Unloaded maps never change under a
    table (a change drops them all); a loaded table was built on the current loaded map with the
    flips logged since ``slot_log_pos[s]`` undone (`_net_changes`; ``map_t``: bool[H*W] scratch).

    Most units stand well inside their table's radius, and one read settles them: if the unit's own
    entry d is known and ``d + max_cost <= radius`` (``max_cost``: the largest move cost), every
    neighbour that was passable when the table was built lies within ``d + max_cost`` of the goal
    (it moves to the unit's cell at that cost at most), so it holds its exact distance and nothing
    the step reads is unknown: the outcome of checking all five reads, at one cache miss instead
    of up to five (on fc_2000 the scan of 2,000 units fell from ~2.2 ms to ~0.5 ms a step).
    """
    hw = H * W
    extended = 0
    for i in range(pos_lin.shape[0]):
        s = goal_slot[i]
        if s < 0 or slot_radius[s] >= COMPLETE:
            continue
        c_own = cell_index[pos_lin[i]]
        if c_own >= 0:
            d_own = np.int64(tables[s, c_own])
            if d_own != 65535 and d_own + max_cost <= slot_radius[s]:
                continue  # every cell the step reads is exact (see above)
        key = slot_key[s]
        cls = 1 if key >= hw else 0
        m = map_l if cls == 1 else map_u
        # the step reads neighbours passable now, and the unit's own cell always
        n_read = _read_cells(H, W, pos_lin[i], m, cell_index, targets, True)
        n = 0
        for k in range(n_read):
            if tables[s, targets[k]] == 65535:
                targets[n] = targets[k]
                n += 1
        if n == 0:
            continue
        built_on = m
        if cls == 1:
            n_ch = _net_changes(log_cells, slot_log_pos[s], log_cells.shape[0], parity, changed)
            if n_ch > 0:  # the loaded map the table was built on
                map_t[:] = map_l
                for k in range(n_ch):
                    lin = base_cells[changed[k]]
                    map_t[lin] = not map_t[lin]
                built_on = map_t
        kept = 0
        for k in range(n):
            if built_on[base_cells[targets[k]]]:
                targets[kept] = targets[k]
                kept += 1
        if kept == 0:
            continue  # every unknown cell was closed then: 65535 in the full table as well
        slot_radius[s] = _bounded_dial_kernel(
            nbr, built_on, base_cells, move_cost, cell_index[key - cls * hw], tables[s], targets[:kept],
            slot_radius[s], margin, buckets, bucket_len,
        )  # fmt: skip
        extended += 1
    return extended


@numba.njit(**NUMBA_OPTS)
def _fill_slots_kernel(
    goal_lin, loaded, goal_slot, step, hw, key_slot, slot_key, slot_last_used, slot_version, slot_built,
    map_version_loaded, cell_index, base_cells, map_u, map_l, nbr, move_cost, fill_mode, tables, queue,
    buckets, bucket_len, live, log_cells, slot_log_pos, repair_limit, parity, changed, mark, heap, touched,
    counts, pos_lin, H, W, slot_radius, bounded_margin, targets,
):  # fmt: skip
    """Give every unit with a goal and ``goal_slot == -1`` a fresh table (the few-per-step case).

    A missing key takes a free slot, else the least recently used slot not used at ``step``; a stale
    key (see `DistanceTables.sync_maps`) is rebuilt in its own slot. Returns the number of tables
    built, or -1 if no slot could be found (the caller then raises). ``live`` (bool[n_cells]) is
    scratch for the passable cells of a load class.

    A stale loaded table whose maps changed at no more than ``repair_limit`` cells since it was built
    (``log_cells[slot_log_pos[s]:]``, the loaded map's flips since) is repaired in place
    (`_repair_kernel`) rather than searched again: the same table, fewer cells visited.
    ``counts`` (int64[3]) adds tables repaired, cells they recomputed and net changed cells; parity,
    changed, mark, heap and touched are the scratch of `_net_changes` and `_repair_kernel`.

    With ``bounded_margin >= 0`` an unloaded table is searched only as far as unit ``pos_lin[i]``
    reads it, plus that margin (`_bounded_dial_kernel`; ``slot_radius[s]`` records how far, and
    `_settle_kernel` extends it when a unit moves beyond). Every other table is complete
    (``slot_radius[s] = COMPLETE``). targets: int32[>= 5 N] scratch.
    """
    S = slot_key.shape[0]
    built = 0
    one_goal = np.empty(1, np.int32)
    one_slot = np.empty(1, np.int32)
    for i in range(goal_lin.shape[0]):
        g = goal_lin[i]
        if g < 0 or goal_slot[i] >= 0:
            continue
        cls = 1 if loaded[i] else 0
        key = cls * hw + g
        s = key_slot[key]
        if s >= 0 and slot_built[s] == step:
            goal_slot[i] = s  # built this step for another unit
            slot_last_used[s] = step
            continue
        existing = s >= 0  # a stale table of this key: rebuilt in its own slot
        if s < 0:
            best = -1
            best_used = np.int64(1) << 62
            for k in range(S):
                if slot_key[k] < 0:
                    best = k
                    break
                if slot_last_used[k] < step and slot_last_used[k] < best_used:
                    best_used = slot_last_used[k]
                    best = k
            if best < 0:
                return -1
            s = best
            if slot_key[s] >= 0:
                key_slot[slot_key[s]] = -1
            slot_key[s] = key
            key_slot[key] = s
        was_pos = slot_log_pos[s]
        slot_log_pos[s] = log_cells.shape[0]
        slot_version[s] = map_version_loaded if cls == 1 else 0
        slot_built[s] = step
        slot_last_used[s] = step
        goal_slot[i] = s
        built += 1
        slot_radius[s] = COMPLETE
        gc = cell_index[g]
        if gc < 0:  # a goal outside the reset-time map: unreachable everywhere
            tables[s, :] = 65535
            continue
        if bounded_margin >= 0:
            # new and stale tables alike (no repair: a search this short costs less), on the maps
            # now, as far as every unit with this goal and load reads them this step (`settle`
            # extends them for later steps)
            m = map_l if cls == 1 else map_u
            n_t = 0
            for j in range(goal_lin.shape[0]):
                if goal_lin[j] == g and loaded[j] == loaded[i]:
                    n_t += _read_cells(H, W, pos_lin[j], m, cell_index, targets[n_t:], False)
            slot_radius[s] = _bounded_dial_kernel(
                nbr, m, base_cells, move_cost, gc, tables[s], targets[:n_t], np.int64(0), bounded_margin,
                buckets, bucket_len,
            )  # fmt: skip
            continue
        if existing and cls == 1 and fill_mode != 2 and repair_limit > 0:
            n_changed = _net_changes(log_cells, was_pos, log_cells.shape[0], parity, changed)
            if n_changed <= repair_limit:
                counts[0] += 1
                counts[1] += _repair_kernel(
                    nbr, map_l, base_cells, move_cost, gc, tables[s], changed[:n_changed], mark, heap, touched
                )
                counts[2] += n_changed
                continue
        m = map_l if cls == 1 else map_u
        for k in range(base_cells.shape[0]):
            live[k] = m[base_cells[k]]
        one_goal[0] = gc
        one_slot[0] = s
        _fill_tables(fill_mode, nbr, live, move_cost, one_goal, one_slot, tables, queue, buckets, bucket_len)
    return built


@numba.njit(**NUMBA_OPTS)
def _bounded_fill_kernel(
    H, W, goals_c, loaded_cls, slots, unit_order, group_start, group_end, pos_lin, map_u, map_l, cell_index,
    base_cells, nbr, move_cost, tables, slot_radius, margin, targets, buckets, bucket_len,
):  # fmt: skip
    """Bounded tables for many keys at once (`DistanceTables.slots_for`): table ``slots[k]`` to
    compact cell ``goals_c[k]`` over the map of class ``loaded_cls[k]``, searched as far as the
    units ``unit_order[group_start[k]:group_end[k]]`` (those with that key) read it, plus
    ``margin`` (`_bounded_dial_kernel`), as `_fill_slots_kernel` searches a new key's table.
    Writes ``slot_radius[slots[k]]``. targets: int32[>= 5 N] scratch."""
    for k in range(goals_c.shape[0]):
        m = map_l if loaded_cls[k] else map_u
        n_t = 0
        for j in range(group_start[k], group_end[k]):
            n_t += _read_cells(H, W, pos_lin[unit_order[j]], m, cell_index, targets[n_t:], False)
        slot_radius[slots[k]] = _bounded_dial_kernel(
            nbr, m, base_cells, move_cost, goals_c[k], tables[slots[k]], targets[:n_t], np.int64(0), margin,
            buckets, bucket_len,
        )  # fmt: skip


def _tiled_order(cells: np.ndarray, W: int, tile_rows: int = 8, tile_cols: int = 8) -> np.ndarray:
    """Linear cells ``int64[K]`` reordered tile by tile (8 x 8 cells, row-major inside a tile).

    The step kernel reads a unit's table at its cell and its four neighbours. In row-major order the
    cells above and below lie a row apart (three cache lines per unit); within tiles most of them
    share a line. Measured on MR24-WAREHOUSE (PIBT kernel, same state, interleaved repetitions):
    median 8.61 -> 8.01 ms. Any order gives the same distances: only the layout changes.
    """
    cells = np.asarray(cells, np.int64)
    r, c = cells // W, cells % W
    n_tile_cols = (W + tile_cols - 1) // tile_cols
    key = ((r // tile_rows) * n_tile_cols + c // tile_cols) * (tile_rows * tile_cols)
    key += (r % tile_rows) * tile_cols + c % tile_cols
    return cells[np.argsort(key, kind="stable")]


def _compact_neighbours(cell_index: np.ndarray, H: int, W: int) -> np.ndarray:
    """``int32[n_cells, 4]``: compact index of the E, S, W, N neighbour of each compact cell, or -1."""
    idx = cell_index.reshape(H, W)
    padded = np.full((H + 2, W + 2), -1, np.int32)
    padded[1:-1, 1:-1] = idx
    shifts = (padded[1:-1, 2:], padded[2:, 1:-1], padded[1:-1, :-2], padded[:-2, 1:-1])  # E, S, W, N
    live = idx >= 0
    out = np.empty((int(live.sum()), 4), np.int32)
    out[idx[live]] = np.stack([sh[live] for sh in shifts], axis=1)  # rows in compact-index order
    return out


class DistanceTables:
    """Distance tables keyed by (goal cell, load class), computed lazily and recycled LRU.

    Parameters
    ----------
    passable_unloaded, passable_loaded:
        ``bool[H, W]`` maps at reset; the union defines the compact cell index.
    move_cost:
        Optional ``uint8[H, W, 4]`` cost of a forward move per cell and heading (guidance, see
        `fctwin.controller.planning.guidance`); plain unit costs (BFS) when omitted.
    refresh_steps:
        Minimum age (steps) before a table made stale by a pod move is rebuilt (see `sync_maps`).
    max_tables:
        Upper bound on live tables; must be at least the number of distinct (goal, class) pairs
        asked for in one step (at most the team size). Memory is ``2 * n_cells * max_tables`` bytes
        at most (five times that with ``headings``); only the tables actually written become resident.
    headings:
        Rotation-aware tables: steps from each (cell, heading) state under the F/R/C/W model, so a
        route's turns are counted (`_state_fill_kernel`). Five times the memory; for small maps.
    repair:
        Repair stale loaded tables in place from the log of cells that flipped (`_repair_kernel`)
        instead of searching them again, when at most ``n_cells // 8`` cells changed. The same
        tables either way (tested); False searches every time (the reference). Not for ``headings``.
    bounded_margin:
        None (default): every table is complete. An int >= 0: a new table (and a stale bounded one)
        is searched only as far as the unit that asked for it reads it (its cell and neighbours) plus
        this margin (in distance units), and extended by `settle` when a unit using it stands
        beyond. A unit reads its table only near its route, and a table searched to distance R holds
        the full table's entry at every cell closer than R: a planner that reads only the cells
        `settle` checks (plain PIBT: `near_distances`) moves exactly as with complete tables. A
        bounded loaded table is extended on the loaded map it was built on (the flips since undone),
        and searched again rather than repaired when stale. Not for ``headings``.
    """

    def __init__(
        self,
        passable_unloaded: np.ndarray,
        passable_loaded: np.ndarray,
        *,
        max_tables: int,
        move_cost: np.ndarray | None = None,
        refresh_steps: int = 100,
        headings: bool = False,
        repair: bool = True,
        bounded_margin: int | None = None,
    ):
        H, W = passable_unloaded.shape
        self.H, self.W = int(H), int(W)
        base = (np.asarray(passable_unloaded, bool) | np.asarray(passable_loaded, bool)).ravel()
        # compact index -> linear cell, in tiles (see `_tiled_order`)
        self.base_cells = _tiled_order(np.flatnonzero(base), W)
        self.cell_index = np.full(H * W, -1, np.int32)
        self.cell_index[self.base_cells] = np.arange(self.base_cells.size, dtype=np.int32)
        self.n_cells = int(base.sum())
        self.base_any = base
        # per class: the cells whose state change means the routes of that class changed
        self.base_by_class = [
            np.asarray(passable_unloaded, bool).ravel().copy(),
            np.asarray(passable_loaded, bool).ravel().copy(),
        ]
        self.max_tables = int(max_tables)
        # one allocation for the whole budget: np.empty only reserves address space, pages become
        # resident as tables are written (slots are used lowest first), and nothing is ever copied
        # rotation-aware tables hold 5 entries per cell (see `_state_fill_kernel`); ``lookup_index``
        # maps a linear cell to its entry holding the cell's distance (the minimum over headings)
        self.stride = 5 if headings else 1
        entry = self.cell_index * self.stride + self.stride - 1
        self.lookup_index = np.where(self.cell_index >= 0, entry, -1).astype(np.int32)
        self.tables = np.empty((self.max_tables, max(self.n_cells, 1) * self.stride), np.uint16)
        self.slot_key = np.full(self.max_tables, -1, np.int64)  # key = class * H*W + goal_lin, -1 free
        self.slot_last_used = np.full(self.max_tables, -1, np.int64)
        self.slot_version = np.zeros(self.max_tables, np.int64)  # map version the table was built on
        self.slot_built = np.zeros(self.max_tables, np.int64)  # step it was built
        # how far a bounded table was searched (`_bounded_dial_kernel`); COMPLETE: the whole table
        self.slot_radius = np.full(self.max_tables, COMPLETE, np.int64)
        self._targets = np.empty(5, np.int32)
        self._map_t = np.empty(H * W, bool)  # a loaded map as a table was built on (`_settle_kernel`)
        self.extend_count = 0  # bounded tables extended by `settle`
        self.map_version = [0, 0]
        self.refresh_steps = int(refresh_steps)
        self.key_slot = np.full(2 * H * W, -1, np.int32)
        self._queue = np.empty(max(self.n_cells, 1), np.int32)
        self.nbr = _compact_neighbours(self.cell_index, H, W)
        if move_cost is None:
            move_cost = np.ones((H, W, 4), np.uint8)
        move_cost = np.asarray(move_cost, np.uint8).reshape(H * W, 4)
        self.move_cost = np.ascontiguousarray(move_cost[self.base_cells])
        self.unit_costs = bool((self.move_cost == 1).all())
        # the largest move cost: a neighbour is at most this much further from a goal (`settle`)
        self.max_cost = np.int64(self.move_cost.max()) if self.n_cells else np.int64(1)
        self.fill_mode = 2 if headings else (1 if self.unit_costs else 0)
        k = int(self.move_cost.max()) if self.n_cells else 1
        n_buckets = 1 << int(k).bit_length()  # power of two > k
        bucket_cells = max(self.n_cells, 1) * (4 if headings else 1)
        if bounded_margin is not None and (headings or int(bounded_margin) < 0):
            raise ValueError(f"bounded_margin must be None or >= 0 without headings, not {bounded_margin}")
        self.bounded_margin = -1 if bounded_margin is None else int(bounded_margin)
        need_buckets = self.fill_mode != 1 or self.bounded_margin >= 0  # bounded searches are Dial's
        self._buckets = np.empty((n_buckets, bucket_cells), np.int32) if need_buckets else None
        self._bucket_len = np.zeros(n_buckets, np.int32)
        self._maps = [
            np.ascontiguousarray(passable_unloaded, bool).ravel().copy(),
            np.ascontiguousarray(passable_loaded, bool).ravel().copy(),
        ]
        self.bfs_count = 0
        self._live = np.empty(max(self.n_cells, 1), bool)
        self._no_buckets = np.empty((1, 1), np.int32)
        # Log of the loaded map's flips at the tables' cells (compact indices), for repairs: a table
        # was built on the maps with the flips before ``slot_log_pos`` (its log length then).
        self.repair_limit = max(self.n_cells // 8, 1) if repair and not headings else 0
        self._log = np.empty(1024, np.int32)
        self._log_len = 0
        self.slot_log_pos = np.zeros(self.max_tables, np.int64)
        self._changed_lin = np.empty(H * W, np.int32)
        nc = max(self.n_cells, 1)
        self._parity = np.zeros(nc, np.uint8)
        self._changed = np.empty(nc, np.int32)
        self._mark = np.zeros(nc, np.uint8)
        self._heap = np.empty(5 * nc + 1, np.int64)
        self._touched = np.empty(nc, np.int32)
        # tables repaired, cells they recomputed, net changed cells they were repaired for
        self.repair_counts = np.zeros(3, np.int64)

    def fill_slots(
        self,
        goal_lin: np.ndarray,
        loaded: np.ndarray,
        goal_slot: np.ndarray,
        step: int,
        pos_lin: np.ndarray | None = None,
    ) -> None:
        """Fill ``goal_slot`` (``int32[N]``) where it is -1 for a unit with a goal, building tables.

        ``goal_slot`` comes from `fctwin.controller.planning._kernels.prepare_kernel` (-1 where the table is
        missing or stale). A few tables a step are built in one numba call; many at once (the first
        step of a large fleet) go through `slots_for`, which recycles LRU slots in bulk (bounded like
        the others with ``bounded_margin``). ``pos_lin`` (``int32[N]``, the units' linear cells) is
        needed with ``bounded_margin``.
        """
        if pos_lin is None:
            if self.bounded_margin >= 0:
                raise ValueError("fill_slots needs pos_lin when tables are bounded")
            pos_lin = np.zeros(goal_lin.shape[0], np.int32)
        if self._targets.size < 5 * goal_lin.shape[0]:
            self._targets = np.empty(5 * goal_lin.shape[0], np.int32)
        missing = int(np.count_nonzero((goal_slot < 0) & (goal_lin >= 0)))
        if missing > 64:
            goal_slot[:] = self.slots_for(goal_lin, loaded, step, pos_lin)
            return
        built = _fill_slots_kernel(
            goal_lin, loaded, goal_slot, step, self.H * self.W, self.key_slot, self.slot_key,
            self.slot_last_used, self.slot_version, self.slot_built, self.map_version[1], self.cell_index,
            self.base_cells, self._maps[0], self._maps[1], self.nbr, self.move_cost, self.fill_mode,
            self.tables, self._queue, self._buckets if self._buckets is not None else self._no_buckets,
            self._bucket_len, self._live, self._log[: self._log_len], self.slot_log_pos, self.repair_limit,
            self._parity, self._changed, self._mark, self._heap, self._touched, self.repair_counts,
            np.ascontiguousarray(pos_lin, np.int32), self.H, self.W, self.slot_radius, self.bounded_margin,
            self._targets,
        )  # fmt: skip
        if built < 0:
            raise RuntimeError(f"max_tables={self.max_tables} is below the distinct goals of one step")
        self.bfs_count += built

    def settle(self, pos_lin: np.ndarray, goal_slot: np.ndarray) -> None:
        """Extend every bounded table that a unit now reads beyond its radius (see ``bounded_margin``);
        call after `fill_slots`, before the planner reads the tables. Nothing to do without bounds."""
        if self.bounded_margin < 0:
            return
        self.extend_count += _settle_kernel(
            self.H, self.W, np.ascontiguousarray(pos_lin, np.int32), goal_slot, self.slot_key,
            self.slot_radius, self._maps[0], self._maps[1], self._map_t, self.cell_index, self.base_cells,
            self.nbr, self.move_cost, self.tables, self.bounded_margin, self._targets, self._buckets,
            self._bucket_len, self._log[: self._log_len], self.slot_log_pos, self._parity, self._changed,
            self.max_cost,
        )  # fmt: skip

    @property
    def nbytes(self) -> int:
        return int(self.tables.nbytes + self.key_slot.nbytes + self.cell_index.nbytes)

    def sync_maps(self, passable_unloaded: np.ndarray, passable_loaded: np.ndarray) -> None:
        """Track map changes: structural ones drop tables now, pod moves refresh them lazily.

        A change of ``passable_unloaded`` at a cell that was passable at reset (an aisle closed or
        reopened) drops every table at once: routes must avoid it from the next step. A change of
        ``passable_loaded`` only (pods lifted and set down change where loaded units may go, many
        times a minute in a fulfilment centre) marks the loaded tables stale; a stale table is rebuilt
        when used and at least ``refresh_steps`` old, which bounds the work per step.
        """
        new_u = np.ascontiguousarray(passable_unloaded, bool).ravel()
        new_l = np.ascontiguousarray(passable_loaded, bool).ravel()
        # The common case. Both sides are flat C-contiguous bool arrays, so equal bytes mean equal
        # maps; comparing the bytes took 0.6 us on fc_small's 989 cells, np.array_equal 8 us (its
        # elementwise temporary and wrapper), twice per step.
        if new_u.tobytes() == self._maps[0].tobytes() and new_l.tobytes() == self._maps[1].tobytes():
            return
        flags, n_changed = _sync_kernel(
            new_u,
            new_l,
            self._maps[0],
            self._maps[1],
            self.base_by_class[0],
            self.base_by_class[1],
            self.cell_index,
            self._changed_lin,
        )
        self._append_log(self._changed_lin[:n_changed])
        if flags & 1:
            self._flush_class(0)
            self._flush_class(1)
        elif flags & 2:
            self.map_version[1] += 1

    def _append_log(self, cells: np.ndarray) -> None:
        end = self._log_len + cells.size
        if end > self._log.size:
            grown = np.empty(max(2 * self._log.size, end), np.int32)
            grown[: self._log_len] = self._log[: self._log_len]
            self._log = grown
        self._log[self._log_len : end] = cells
        self._log_len = end

    def _flush_class(self, cls: int) -> None:
        hw = self.H * self.W
        live = self.slot_key >= 0
        in_cls = live & ((self.slot_key // hw) == cls)
        self.key_slot[self.slot_key[in_cls]] = -1
        self.slot_key[in_cls] = -1

    def slots_for(
        self, goal_lin: np.ndarray, loaded: np.ndarray, step: int, pos_lin: np.ndarray | None = None
    ) -> np.ndarray:
        """Table slot for each unit (``int32[N]``, -1 where ``goal_lin`` is -1), computing missing ones.

        Missing tables are complete, or, given the units' cells ``pos_lin`` (``int32[N]``) and with
        ``bounded_margin``, searched only as far as the units with that key read them
        (`_bounded_fill_kernel`): the same slots either way (the first step of fc_2000 builds
        ~2,000 tables here, the table of a unit's own pod or storage cell mostly a short search)."""
        hw = self.H * self.W
        has_goal = goal_lin >= 0
        keys = np.where(has_goal, loaded.astype(np.int64) * hw + goal_lin, -1)
        slots = np.full(goal_lin.shape[0], -1, np.int32)
        slots[has_goal] = self.key_slot[keys[has_goal]]
        if self.map_version[1] > 0:
            live = slots >= 0
            stale = np.zeros_like(live)
            stale[live] = (
                (keys[live] >= hw)
                & (self.slot_version[slots[live]] < self.map_version[1])
                & (step - self.slot_built[slots[live]] >= self.refresh_steps)
            )
            if np.any(stale):  # rebuild in a fresh slot (the old one is released)
                old_slots = np.unique(slots[stale])
                self.key_slot[self.slot_key[old_slots]] = -1
                self.slot_key[old_slots] = -1
                slots[stale] = -1
        missing = has_goal & (slots < 0)
        if np.any(missing):
            new_keys = np.unique(keys[missing])
            free = np.flatnonzero(self.slot_key < 0)
            if free.size < new_keys.size:
                # recycle the least recently used tables not needed this step
                self.slot_last_used[slots[slots >= 0]] = step
                old = np.flatnonzero((self.slot_key >= 0) & (self.slot_last_used < step))
                k = new_keys.size - free.size
                if old.size < k:
                    raise RuntimeError(
                        f"max_tables={self.max_tables} is below the distinct goals of one step"
                    )
                victims = old[np.argpartition(self.slot_last_used[old], k - 1)[:k]]
                self.key_slot[self.slot_key[victims]] = -1
                self.slot_key[victims] = -1
                free = np.flatnonzero(self.slot_key < 0)
            use = free[: new_keys.size].astype(np.int32)
            self.slot_key[use] = new_keys
            self.key_slot[new_keys] = use
            self.slot_version[use] = np.where(new_keys >= hw, self.map_version[1], self.map_version[0])
            self.slot_built[use] = step
            self.slot_radius[use] = COMPLETE
            self.slot_log_pos[use] = self._log_len
            if pos_lin is not None and self.bounded_margin >= 0:
                self._bounded_fill(new_keys, use, keys, pos_lin)
            else:
                self._complete_fill(new_keys, use)
            self.bfs_count += int(use.size)
            slots[missing] = self.key_slot[keys[missing]]
        self.slot_last_used[slots[slots >= 0]] = step
        return slots

    def _complete_fill(self, new_keys: np.ndarray, use: np.ndarray) -> None:
        """Complete tables for ``new_keys`` in slots ``use``, one kernel call per load class."""
        hw = self.H * self.W
        for cls in (0, 1):
            sel = (new_keys // hw) == cls
            if np.any(sel):
                goals = self.cell_index[new_keys[sel] - cls * hw]
                ok = goals >= 0  # goals outside the reset-time map: tables stay "unreachable"
                self.tables[use[sel][~ok]] = 65535
                live = self._maps[cls][self.base_cells]
                _fill_tables(
                    self.fill_mode, self.nbr, live, self.move_cost, goals[ok], use[sel][ok], self.tables,
                    self._queue, self._buckets if self._buckets is not None else self._no_buckets,
                    self._bucket_len,
                )  # fmt: skip

    def _bounded_fill(self, new_keys: np.ndarray, use: np.ndarray, keys: np.ndarray, pos_lin: np.ndarray):
        """Bounded searches for the tables of ``new_keys`` (sorted, unique) in slots ``use``, as far
        as the units with each key (``keys``: int64[N], -1 none) read them (`_bounded_fill_kernel`)."""
        hw = self.H * self.W
        goals_c = self.cell_index[new_keys % hw]
        ok = goals_c >= 0  # goals outside the reset-time map: tables stay "unreachable"
        self.tables[use[~ok]] = 65535
        # the units with key new_keys[k]: unit_order[group_start[k]:group_end[k]]
        unit_order = np.argsort(keys, kind="stable").astype(np.int32)
        sorted_keys = keys[unit_order]
        group_start = np.searchsorted(sorted_keys, new_keys[ok]).astype(np.int64)
        group_end = np.searchsorted(sorted_keys, new_keys[ok], side="right").astype(np.int64)
        if self._targets.size < 5 * pos_lin.shape[0]:
            self._targets = np.empty(5 * pos_lin.shape[0], np.int32)
        _bounded_fill_kernel(
            self.H, self.W, goals_c[ok].astype(np.int32), new_keys[ok] >= hw, use[ok], unit_order,
            group_start, group_end, np.ascontiguousarray(pos_lin, np.int32), self._maps[0], self._maps[1],
            self.cell_index,
            self.base_cells, self.nbr, self.move_cost, self.tables, self.slot_radius, self.bounded_margin,
            self._targets, self._buckets, self._bucket_len,
        )  # fmt: skip

    def distance(self, slot: int, cell_lin: int) -> int:
        """Distance (steps) from ``cell_lin`` to the table's goal; 65535 if unreachable (or, in a
        bounded table, not searched: see ``bounded_margin``)."""
        ci = self.lookup_index[cell_lin]
        return 65535 if ci < 0 else int(self.tables[slot, ci])
