"""numba kernels of slotting: array in, array out (public wrappers: `fctwin.controller.slotting.kernels`).

Each kernel fills ``out`` arrays the wrapper allocated and validated. Readable twins, the
definition these are tested against (also with ``NUMBA_DISABLE_JIT=1``):
`fctwin.controller.slotting.reference`. Ties are broken by the lowest index everywhere, so kernel
and reference agree exactly.
"""

from __future__ import annotations

import numba
import numpy as np

from fctwin.controller.planning.numba_config import NUMBA_OPTS


@numba.njit(**NUMBA_OPTS)
def cooccurrence_topk(order_ptr, line_sku, n_skus, max_lines, out_nbr, out_cnt):
    """Top-k co-occurring SKUs of every SKU from orders in CSR form.

    ``order_ptr`` int64[O+1], ``line_sku`` int32[L] (distinct SKUs per order). Only the first
    ``max_lines`` lines of an order make pairs (a 200-line order would add 40,000 pairs of noise).
    Fills ``out_nbr`` int32[S, k] (-1 padding) and ``out_cnt`` int32[S, k] (orders with both), best
    first: more orders first, then the lower SKU id. Returns the number of distinct pairs.
    """
    n_orders = order_ptr.shape[0] - 1
    total = 0
    for o in range(n_orders):
        m = min(order_ptr[o + 1] - order_ptr[o], max_lines)
        total += m * (m - 1)
    keys = np.empty(total, dtype=np.int64)
    t = 0
    for o in range(n_orders):
        lo = order_ptr[o]
        m = min(order_ptr[o + 1] - lo, max_lines)
        for i in range(m):
            a = np.int64(line_sku[lo + i])
            for j in range(m):
                if i != j:
                    keys[t] = a * n_skus + line_sku[lo + j]
                    t += 1
    keys.sort()
    k = out_nbr.shape[1]
    out_nbr[:] = -1
    out_cnt[:] = 0
    n_pairs = 0
    i = 0
    while i < total:
        key = keys[i]
        j = i
        while j < total and keys[j] == key:
            j += 1
        cnt = j - i
        a = key // n_skus
        b = key - a * n_skus
        n_pairs += 1
        # insert (cnt, b) into a's top-k, kept sorted by count desc, then b asc (b arrives ascending,
        # so an equal count never displaces an earlier entry)
        pos = k
        while pos > 0 and out_cnt[a, pos - 1] < cnt:
            pos -= 1
        if pos < k:
            for q in range(k - 1, pos, -1):
                out_cnt[a, q] = out_cnt[a, q - 1]
                out_nbr[a, q] = out_nbr[a, q - 1]
            out_cnt[a, pos] = cnt
            out_nbr[a, pos] = b
        i = j
    return n_pairs


@numba.njit(**NUMBA_OPTS)
def decayed_counts(ids, times_h, weights, now_h, half_life_h, out):
    """``out[i] += sum of weights[e] * 2 ** (-(now_h - times_h[e]) / half_life_h)`` over events ``e``
    with ``ids[e] == i`` and ``times_h[e] <= now_h`` (later events are ignored)."""
    for e in range(ids.shape[0]):
        age = now_h - times_h[e]
        if age >= 0.0:
            out[ids[e]] += weights[e] * 2.0 ** (-age / half_life_h)


@numba.njit(**NUMBA_OPTS)
def pod_rates_kernel(slot_sku, slot_units, sku_rate, sku_units, out):
    """Expected retrievals per hour of each pod: the SKU's rate shared by the pods holding it in
    proportion to their units. ``slot_sku`` int32[P, K] (-1 empty), ``slot_units`` int32[P, K],
    ``sku_rate`` float64[S] (lines/h), ``sku_units`` int64[S] (units in stock); fills float64[P]."""
    n_pods, n_slots = slot_sku.shape
    for p in range(n_pods):
        r = 0.0
        for j in range(n_slots):
            s = slot_sku[p, j]
            u = slot_units[p, j]
            if s >= 0 and u > 0 and sku_units[s] > 0:
                r += sku_rate[s] * u / sku_units[s]
        out[p] = r


@numba.njit(**NUMBA_OPTS)
def stow_scores_kernel(
    units_in,
    mass_kg,
    usable,
    dist,
    pod_class,
    same_pods,
    aff_pods,
    aff_w,
    carton_units,
    carton_mass_kg,
    sku_class,
    capacity_units,
    max_mass_kg,
    w_aff,
    w_same,
    w_class,
    w_dist,
    w_fill,
    out,
):
    """Score every pod for one inbound carton; -inf where it cannot take it. Returns the best pod
    (highest score, lowest index on ties) or -1.

    score = w_aff * (affinity of the carton's SKU with the pod's SKUs) + w_same * [pod holds the SKU]
    - w_class * |pod class - SKU class| - w_dist * distance - w_fill * fill fraction.
    ``units_in``/``mass_kg`` include units promised to other stow trips; ``aff_pods``/``aff_w`` list
    (pod, weight) for every pod holding one of the SKU's affinity neighbours (repeats add up).
    Weights ``w_aff``, ``w_same`` and ``aff_w`` must be >= 0 (the wrapper checks).
    """
    n = units_in.shape[0]
    inv_cap = 1.0 / capacity_units
    room_units = capacity_units - carton_units
    best = -1
    best_score = -np.inf
    # one pass for the base score and its best pod; bonuses (>= 0) then only raise touched pods
    for p in range(n):
        if usable[p] == 0 or units_in[p] > room_units or mass_kg[p] + carton_mass_kg > max_mass_kg:
            out[p] = -np.inf
        else:
            v = -w_class * abs(pod_class[p] - sku_class) - w_dist * dist[p] - w_fill * units_in[p] * inv_cap
            out[p] = v
            if v > best_score:
                best_score = v
                best = p
    for q in range(same_pods.shape[0]):
        p = same_pods[q]
        if out[p] != -np.inf:
            out[p] += w_same
    for q in range(aff_pods.shape[0]):
        p = aff_pods[q]
        if out[p] != -np.inf:
            out[p] += w_aff * aff_w[q]
    for q in range(same_pods.shape[0] + aff_pods.shape[0]):
        p = same_pods[q] if q < same_pods.shape[0] else aff_pods[q - same_pods.shape[0]]
        v = out[p]
        if v > best_score or (v == best_score and v != -np.inf and p < best):
            best_score = v
            best = p
    return best


@numba.njit(**NUMBA_OPTS)
def storage_costs_kernel(free, dist_here, dist_st, potential, rate, horizon_h, w_return, out):
    """Cost of putting a returning pod on each storage cell; +inf where not free. Returns the
    cheapest cell (lowest index on ties) or -1.

    cost = w_return * dist_here + horizon_h * (rate * 2 * dist_st - potential): the trip back now,
    plus the pod's expected retrievals x round trip to the stations, less the cell's shadow price
    (``potential``, what faster pods would save there; see `storage_potential`).
    """
    best = -1
    best_cost = np.inf
    for c in range(free.shape[0]):
        if free[c] == 0:
            out[c] = np.inf
            continue
        v = w_return * dist_here[c] + horizon_h * (rate * 2.0 * dist_st[c] - potential[c])
        out[c] = v
        if v < best_cost:
            best_cost = v
            best = c
    return best


@numba.njit(**NUMBA_OPTS)
def reslot_step_kernel(
    pod_slot,
    movable,
    pod_rate,
    free,
    dist_st,
    cell_r,
    cell_c,
    potential,
    horizon_h,
    move_cost,
    n_cand,
    out_pod,
    out_cell,
    out_saving,
):
    """One re-slotting step: the best single-pod moves to free cells, greedily, none sharing a pod
    or a cell. Returns how many moves were written.

    Moving pod p from cell a to free cell b is worth
    ``horizon_h * (rate_p * 2 * (d_a - d_b) - (potential_a - potential_b))`` cells of travel
    saved over the horizon (the storage cost of `storage_costs_kernel` without the return trip)
    minus ``move_cost`` per cell the move carries it (``|a - b|`` Manhattan, plus one empty trip of
    the same length). A move is kept only if that is positive. Candidate cells: the ``n_cand``
    free cells with the lowest potential-adjusted cost for fast pods, and as many for slow pods
    (both ends of the distance order), so a step costs O(P * n_cand).
    """
    n_cells = free.shape[0]
    n_pods = pod_slot.shape[0]
    # candidate free cells: the nearest and the farthest (by station distance)
    order = np.argsort(dist_st, kind="mergesort")
    cand = np.empty(2 * n_cand, dtype=np.int64)
    nc = 0
    for i in range(n_cells):
        c = order[i]
        if free[c] != 0:
            cand[nc] = c
            nc += 1
            if nc >= n_cand:
                break
    nfar = 0
    for i in range(n_cells - 1, -1, -1):
        c = order[i]
        if free[c] != 0:
            dup = False
            for q in range(nc):
                if cand[q] == c:
                    dup = True
                    break
            if not dup:
                cand[nc] = c
                nc += 1
                nfar += 1
                if nfar >= n_cand:
                    break
    used_cell = np.zeros(n_cells, dtype=np.uint8)
    used_pod = np.zeros(n_pods, dtype=np.uint8)
    n_out = 0
    while n_out < out_pod.shape[0]:
        best_gain = 0.0
        best_p = -1
        best_c = -1
        for p in range(n_pods):
            a = pod_slot[p]
            if a < 0 or movable[p] == 0 or used_pod[p] != 0:
                continue
            for q in range(nc):
                b = cand[q]
                if used_cell[b] != 0:
                    continue
                saved = horizon_h * (
                    pod_rate[p] * 2.0 * (dist_st[a] - dist_st[b]) - (potential[a] - potential[b])
                )
                carry = abs(cell_r[a] - cell_r[b]) + abs(cell_c[a] - cell_c[b])
                gain = saved - move_cost * 2.0 * carry
                if gain > best_gain:
                    best_gain = gain
                    best_p = p
                    best_c = b
        if best_p < 0:
            break
        out_pod[n_out] = best_p
        out_cell[n_out] = best_c
        out_saving[n_out] = best_gain
        used_pod[best_p] = 1
        used_cell[best_c] = 1
        n_out += 1
    return n_out


@numba.njit(**NUMBA_OPTS)
def affinity_mix_kernel(copies, seed_order, nbr, nbr_w, n_pods, slots, out_sku):
    """Initial SKU-to-pod mixing by affinity: pod after pod, seed with the next SKU of
    ``seed_order`` that still has copies to place, then fill each further slot with the SKU of the
    highest summed affinity to the SKUs already in the pod (among those with copies left, not in
    the pod; lowest id on ties), else the next seed. ``copies`` int64[S] (modified: how many pods
    each SKU goes on), ``nbr``/``nbr_w`` [S, k] as from `cooccurrence_topk`; fills ``out_sku``
    int32[n_pods, slots] (-1 when every copy is placed)."""
    n_skus = copies.shape[0]
    k = nbr.shape[1]
    score = np.zeros(n_skus, dtype=np.float64)
    touched = np.empty(slots * k, dtype=np.int64)
    in_pod = np.zeros(n_skus, dtype=np.uint8)
    ptr = 0
    out_sku[:] = -1
    for p in range(n_pods):
        n_touch = 0
        for j in range(slots):
            pick = -1
            best = 0.0
            for t in range(n_touch):
                s = touched[t]
                if copies[s] > 0 and in_pod[s] == 0 and (score[s] > best or (score[s] == best and s < pick)):
                    best = score[s]
                    pick = s
            if pick < 0:
                # next seed with copies left (wrapping once over the order)
                tries = 0
                while tries < n_skus and (copies[seed_order[ptr]] == 0 or in_pod[seed_order[ptr]] != 0):
                    ptr = (ptr + 1) % n_skus
                    tries += 1
                if tries >= n_skus:
                    break
                pick = seed_order[ptr]
                ptr = (ptr + 1) % n_skus
            out_sku[p, j] = pick
            copies[pick] -= 1
            in_pod[pick] = 1
            for q in range(k):
                s = nbr[pick, q]
                if s < 0:
                    break
                if score[s] == 0.0:
                    touched[n_touch] = s
                    n_touch += 1
                score[s] += nbr_w[pick, q]
        for t in range(n_touch):
            score[touched[t]] = 0.0
        for j in range(slots):
            s = out_sku[p, j]
            if s >= 0:
                in_pod[s] = 0
