"""Slow, obvious pure-Python twins of the slotting kernels (`fctwin.controller.slotting._kernels`).

The definition the kernels are tested against: dicts, sorts and loops, no cleverness. Same inputs
(plain sequences are fine) and the same tie-breaking (lowest index), so answers agree exactly.
"""

from __future__ import annotations

import math
from collections import Counter


def sku_affinity_ref(order_ptr, line_sku, n_skus: int, k: int, max_lines: int = 32):
    """(nbr, cnt): per SKU a list of its top-``k`` co-ordered SKUs and how many orders had both;
    most orders first, then the lower SKU id; padded with -1 / 0."""
    pairs: Counter = Counter()
    for o in range(len(order_ptr) - 1):
        skus = [int(s) for s in line_sku[order_ptr[o] : order_ptr[o + 1]]][:max_lines]
        for a in skus:
            for b in skus:
                if a != b:
                    pairs[(a, b)] += 1
    nbr = [[-1] * k for _ in range(n_skus)]
    cnt = [[0] * k for _ in range(n_skus)]
    by_sku: dict[int, list[tuple[int, int]]] = {}
    for (a, b), c in pairs.items():
        by_sku.setdefault(a, []).append((-c, b))
    for a, lst in by_sku.items():
        for q, (negc, b) in enumerate(sorted(lst)[:k]):
            nbr[a][q] = b
            cnt[a][q] = -negc
    return nbr, cnt


def decayed_counts_ref(ids, times_h, weights, n: int, now_h: float, half_life_h: float):
    out = [0.0] * n
    for i, t, w in zip(ids, times_h, weights, strict=True):
        if t <= now_h:
            out[int(i)] += w * 0.5 ** ((now_h - t) / half_life_h)
    return out


def pod_rates_ref(slot_sku, slot_units, sku_rate):
    """Each pod's expected retrievals per hour: its share of every SKU's stock times that SKU's rate."""
    stock: Counter = Counter()
    for row_s, row_u in zip(slot_sku, slot_units, strict=True):
        for s, u in zip(row_s, row_u, strict=True):
            if s >= 0 and u > 0:
                stock[int(s)] += int(u)
    rates = []
    for row_s, row_u in zip(slot_sku, slot_units, strict=True):
        r = 0.0
        for s, u in zip(row_s, row_u, strict=True):
            if s >= 0 and u > 0:
                r += sku_rate[s] * u / stock[int(s)]
        rates.append(r)
    return rates


def stow_choice_ref(
    *,
    units_in,
    mass_kg,
    usable,
    dist,
    pod_class,
    pods_of_sku: dict[int, set[int]],
    sku: int,
    nbr_skus,
    nbr_w,
    carton_units: int,
    carton_mass_kg: float,
    sku_class: int,
    capacity_units: int,
    max_mass_kg: float,
    w_aff: float,
    w_same: float,
    w_class: float,
    w_dist: float,
    w_fill: float,
):
    """The pod with the best score for the carton (see `stow_scores_kernel`), or -1."""
    best, best_score = -1, -math.inf
    for p in range(len(units_in)):
        if not usable[p]:
            continue
        if units_in[p] + carton_units > capacity_units or mass_kg[p] + carton_mass_kg > max_mass_kg:
            continue
        aff = sum(w for s, w in zip(nbr_skus, nbr_w, strict=True) if s >= 0 and p in pods_of_sku.get(s, ()))
        score = (
            -w_class * abs(pod_class[p] - sku_class)
            - w_dist * dist[p]
            - w_fill * units_in[p] / capacity_units
            + (w_same if p in pods_of_sku.get(sku, ()) else 0.0)
            + w_aff * aff
        )
        if score > best_score:
            best, best_score = p, score
    return best


def storage_choice_ref(free, dist_here, dist_st, potential, rate, horizon_h, w_return):
    best, best_cost = -1, math.inf
    for c in range(len(free)):
        if free[c]:
            cost = w_return * dist_here[c] + horizon_h * (rate * 2.0 * dist_st[c] - potential[c])
            if cost < best_cost:
                best, best_cost = c, cost
    return best


def storage_potential_ref(dist_st, pod_rates):
    """Each cell's shadow price: walk the cells nearest first; the k-th nearest is "worth" the k-th
    fastest pod's rate per cell of distance, accumulated (the dual of assigning pods to cells)."""
    cells = sorted(range(len(dist_st)), key=lambda c: (dist_st[c], c))
    rates = sorted(pod_rates, reverse=True)
    out = [0.0] * len(dist_st)
    acc, prev = 0.0, 0.0
    for k, c in enumerate(cells):
        pi = rates[k] if k < len(rates) else 0.0
        acc += 2.0 * pi * (dist_st[c] - prev)
        prev = dist_st[c]
        out[c] = acc
    return out


def reslot_step_ref(
    pod_slot, movable, pod_rate, free, dist_st, cell_rc, potential, horizon_h, move_cost, n_cand, max_moves
):
    """Greedy best single moves to candidate free cells (see `reslot_step_kernel`)."""
    order = sorted(range(len(dist_st)), key=lambda c: (dist_st[c], c))
    free_in_order = [c for c in order if free[c]]
    near = free_in_order[:n_cand]
    far = [c for c in reversed(free_in_order) if c not in near][:n_cand]
    cand = near + far
    used_pods: set[int] = set()
    used_cells: set[int] = set()
    moves = []
    while len(moves) < max_moves:
        best = (0.0, -1, -1)
        for p in range(len(pod_slot)):
            a = pod_slot[p]
            if a < 0 or not movable[p] or p in used_pods:
                continue
            for b in cand:
                if b in used_cells:
                    continue
                saved = horizon_h * (
                    pod_rate[p] * 2.0 * (dist_st[a] - dist_st[b]) - (potential[a] - potential[b])
                )
                carry = abs(cell_rc[a][0] - cell_rc[b][0]) + abs(cell_rc[a][1] - cell_rc[b][1])
                gain = saved - move_cost * 2.0 * carry
                if gain > best[0]:
                    best = (gain, p, b)
        if best[1] < 0:
            break
        moves.append((best[1], best[2], best[0]))
        used_pods.add(best[1])
        used_cells.add(best[2])
    return moves


def affinity_mix_ref(copies, seed_order, nbr, nbr_w, n_pods: int, slots: int):
    copies = list(copies)
    out = [[-1] * slots for _ in range(n_pods)]
    ptr = 0
    n = len(copies)
    for p in range(n_pods):
        in_pod: list[int] = []
        score: dict[int, float] = {}
        for j in range(slots):
            cands = [s for s, v in score.items() if copies[s] > 0 and s not in in_pod and v > 0]
            if cands:
                pick = min(cands, key=lambda s: (-score[s], s))
            else:
                tries = 0
                while tries < n and (copies[seed_order[ptr]] == 0 or seed_order[ptr] in in_pod):
                    ptr = (ptr + 1) % n
                    tries += 1
                if tries >= n:
                    break
                pick = seed_order[ptr]
                ptr = (ptr + 1) % n
            out[p][j] = int(pick)
            copies[pick] -= 1
            in_pod.append(pick)
            for s, w in zip(nbr[pick], nbr_w[pick], strict=True):
                if s < 0:
                    break
                score[int(s)] = score.get(int(s), 0.0) + w
    return out
