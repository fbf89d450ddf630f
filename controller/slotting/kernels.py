"""Slotting kernels, public side: validate, allocate, call the numba kernel (`_kernels`).

Slotting decides where each SKU and each pod lives (docs/slotting.md):

- `sku_affinity`: which SKUs are ordered together (co-occurrence, top-k per SKU, sparse);
- `decayed_velocity`, `pod_rates`: how fast SKUs and pods move (decayed counts; a pod's share of
  its SKUs' demand);
- `stow_choice`: which pod receives an inbound carton;
- `storage_potential`, `storage_choice`: which free cell a returning pod goes to;
- `reslot_step`: moves idle units can make, with the travel each saves;
- `affinity_mix`: initial SKU-to-pod mixing when a scene is built.

Arrays: pods by index ``p`` (the pod id), storage cells by index ``c`` into an int32[C, 2] table of
(row, col); distances in cells; rates in order lines (retrievals) per hour. Every function raises
ValueError on shapes that do not fit. Pure-Python twins: `fctwin.controller.slotting.reference`.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.slotting import _kernels as kern

__all__ = [
    "affinity_mix",
    "decayed_velocity",
    "pod_rates",
    "reslot_step",
    "sku_affinity",
    "storage_choice",
    "storage_potential",
    "stow_choice",
]


def _vec(name: str, a, dtype, n: int | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=dtype)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise ValueError(f"{name}: expected a vector of length {n}, got shape {arr.shape}")
    return arr


def sku_affinity(
    order_ptr, line_sku, n_skus: int, *, k: int = 10, max_lines_per_order: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` co-ordered SKUs of every SKU.

    ``order_ptr`` int64[O+1] (non-decreasing, from 0) and ``line_sku`` int[L] (SKU ids < ``n_skus``,
    distinct within an order): order ``o``'s SKUs are ``line_sku[order_ptr[o]:order_ptr[o+1]]``.
    Returns ``(nbr int32[S, k], count int32[S, k])``: neighbours, best first (most orders in common,
    then lower id), padded with -1 / 0.
    """
    ptr = _vec("order_ptr", order_ptr, np.int64)
    skus = _vec("line_sku", line_sku, np.int32)
    if ptr.shape[0] < 1 or ptr[0] != 0 or ptr[-1] != skus.shape[0] or np.any(np.diff(ptr) < 0):
        raise ValueError("order_ptr must rise from 0 to len(line_sku)")
    if skus.size and (skus.min() < 0 or skus.max() >= n_skus):
        raise ValueError(f"line_sku must lie in [0, {n_skus})")
    if k < 1 or max_lines_per_order < 2:
        raise ValueError("k >= 1 and max_lines_per_order >= 2 required")
    nbr = np.empty((n_skus, k), dtype=np.int32)
    cnt = np.empty((n_skus, k), dtype=np.int32)
    kern.cooccurrence_topk(ptr, skus, np.int64(n_skus), np.int64(max_lines_per_order), nbr, cnt)
    return nbr, cnt


def decayed_velocity(ids, times_h, n: int, *, now_h: float, half_life_h: float, weights=None) -> np.ndarray:
    """float64[n]: per id, events (``ids``, at ``times_h``) weighted ``2 ** (-age / half_life_h)``;
    events after ``now_h`` are ignored. Divide by ``half_life_h / ln 2`` for a rate per hour."""
    ids_a = _vec("ids", ids, np.int64)
    t = _vec("times_h", times_h, np.float64, ids_a.shape[0])
    w = np.ones(ids_a.shape[0]) if weights is None else _vec("weights", weights, np.float64, ids_a.shape[0])
    if ids_a.size and (ids_a.min() < 0 or ids_a.max() >= n):
        raise ValueError(f"ids must lie in [0, {n})")
    if half_life_h <= 0:
        raise ValueError("half_life_h must be positive")
    out = np.zeros(n, dtype=np.float64)
    kern.decayed_counts(ids_a, t, w, float(now_h), float(half_life_h), out)
    return out


def pod_rates(slot_sku, slot_units, sku_rate) -> np.ndarray:
    """float64[P]: each pod's expected retrievals per hour, its share (by units) of every SKU's
    ``sku_rate`` (float64[S], lines per hour). ``slot_sku``/``slot_units`` int[P, K] (-1: empty)."""
    ss = np.ascontiguousarray(slot_sku, dtype=np.int32)
    su = np.ascontiguousarray(slot_units, dtype=np.int32)
    rate = _vec("sku_rate", sku_rate, np.float64)
    if ss.ndim != 2 or ss.shape != su.shape:
        raise ValueError(f"slot_sku {ss.shape} and slot_units {su.shape} must be equal [P, K]")
    if ss.size and ss.max() >= rate.shape[0]:
        raise ValueError("slot_sku names a SKU beyond sku_rate")
    stock = np.bincount(ss[ss >= 0], weights=su[ss >= 0], minlength=rate.shape[0]).astype(np.int64)
    out = np.empty(ss.shape[0], dtype=np.float64)
    kern.pod_rates_kernel(ss, su, rate, stock, out)
    return out


def stow_choice(
    *,
    units_in,
    mass_kg,
    usable,
    dist,
    pod_class,
    same_pods,
    aff_pods,
    aff_w,
    carton_units: int,
    carton_mass_kg: float,
    sku_class: int,
    capacity_units: int,
    max_mass_kg: float,
    w_aff: float = 1.0,
    w_same: float = 0.0,
    w_class: float = 0.0,
    w_dist: float = 0.0,
    w_fill: float = 0.0,
    out: np.ndarray | None = None,
) -> int:
    """The pod (index) that should receive one carton, or -1 when none has room.

    Pod vectors of length P: ``units_in`` (units held plus promised), ``mass_kg`` (gross, plus
    promised), ``usable`` (bool: on the floor, not on a trip), ``dist`` (cells to the stow station),
    ``pod_class`` (velocity class, 0 fastest). ``same_pods``: pods already holding the SKU;
    ``aff_pods``/``aff_w``: pods holding each affinity neighbour of the SKU and that neighbour's
    weight. Score: see `fctwin.controller.slotting._kernels.stow_scores_kernel`. ``out`` (float64[P])
    may be passed to avoid an allocation; it receives the scores.
    """
    n = len(units_in)
    u = _vec("units_in", units_in, np.int64, n)
    m = _vec("mass_kg", mass_kg, np.float64, n)
    ok = _vec("usable", usable, np.uint8, n)
    d = _vec("dist", dist, np.float64, n)
    cls = _vec("pod_class", pod_class, np.int64, n)
    same = _vec("same_pods", same_pods, np.int64)
    ap = _vec("aff_pods", aff_pods, np.int64)
    aw = _vec("aff_w", aff_w, np.float64, ap.shape[0])
    for name, idx in (("same_pods", same), ("aff_pods", ap)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name} must lie in [0, {n})")
    if w_aff < 0 or w_same < 0 or (aw.size and aw.min() < 0):
        raise ValueError("w_aff, w_same and aff_w must be >= 0")
    if out is None:
        out = np.empty(n, dtype=np.float64)
    return int(
        kern.stow_scores_kernel(
            u, m, ok, d, cls, same, ap, aw,
            int(carton_units), float(carton_mass_kg), int(sku_class), int(capacity_units), float(max_mass_kg),
            float(w_aff), float(w_same), float(w_class), float(w_dist), float(w_fill), out,
        )
    )  # fmt: skip


def storage_potential(dist_st, pod_rates_per_h) -> np.ndarray:
    """float64[C]: each storage cell's shadow price (in cells of travel per hour).

    Sort cells nearest first and pods fastest first; the k-th nearest cell is worth the k-th
    fastest pod's ``2 * rate`` per cell of distance, accumulated outwards. With it, the storage cost
    ``rate * 2 * d - potential`` is lowest near the distance the pod's rank deserves (fast pods
    near, slow ones out of their way): the dual prices of assigning pods to cells by turnover.
    """
    d = _vec("dist_st", dist_st, np.float64)
    rates = np.sort(_vec("pod_rates", pod_rates_per_h, np.float64))[::-1]
    order = np.lexsort((np.arange(d.shape[0]), d))
    pi = np.zeros(d.shape[0])
    n = min(d.shape[0], rates.shape[0])
    pi[:n] = rates[:n]
    ds = d[order]
    step = np.diff(ds, prepend=0.0)
    out = np.empty(d.shape[0])
    out[order] = np.cumsum(2.0 * pi * step)  # cumsum adds in sequence, as the reference does
    return out


def storage_choice(
    free, dist_here, dist_st, potential, *, rate: float, horizon_h: float = 1.0, w_return: float = 1.0
) -> int:
    """The storage cell (index) a returning pod should go to, or -1 if none is free.

    ``free`` bool[C]; ``dist_here`` (cells from where the pod is now), ``dist_st`` (mean cells to
    the pick stations), ``potential`` (`storage_potential`) float64[C]; ``rate``: the pod's expected
    retrievals per hour. See `fctwin.controller.slotting._kernels.storage_costs_kernel`.
    """
    f = _vec("free", free, np.uint8)
    n = f.shape[0]
    out = np.empty(n, dtype=np.float64)
    return int(
        kern.storage_costs_kernel(
            f,
            _vec("dist_here", dist_here, np.float64, n),
            _vec("dist_st", dist_st, np.float64, n),
            _vec("potential", potential, np.float64, n),
            float(rate),
            float(horizon_h),
            float(w_return),
            out,
        )
    )


def reslot_step(
    pod_slot,
    movable,
    pod_rate,
    free,
    dist_st,
    cells,
    potential,
    *,
    horizon_h: float = 1.0,
    move_cost: float = 1.0,
    n_cand: int = 16,
    max_moves: int = 1,
) -> list[tuple[int, int, float]]:
    """Up to ``max_moves`` pod moves ``(pod, cell index, cells saved)``, best first, no pod or cell twice.

    ``pod_slot`` int[P]: the storage cell index each pod stands on (-1: carried); ``movable``
    bool[P]; ``pod_rate`` float64[P] retrievals/h; ``free`` bool[C]; ``dist_st`` float64[C];
    ``cells`` int[C, 2] (row, col); ``potential`` float64[C] (`storage_potential`). The saving is
    travel over ``horizon_h`` hours less ``move_cost`` per cell moved (carry plus the empty trip).
    """
    slot = _vec("pod_slot", pod_slot, np.int64)
    n = slot.shape[0]
    f = _vec("free", free, np.uint8)
    c = f.shape[0]
    rc = np.ascontiguousarray(cells, dtype=np.int64)
    if rc.shape != (c, 2):
        raise ValueError(f"cells: expected shape ({c}, 2), got {rc.shape}")
    if slot.size and slot.max() >= c:
        raise ValueError("pod_slot names a cell beyond the table")
    out_pod = np.empty(max_moves, dtype=np.int64)
    out_cell = np.empty(max_moves, dtype=np.int64)
    out_saving = np.empty(max_moves, dtype=np.float64)
    k = kern.reslot_step_kernel(
        slot,
        _vec("movable", movable, np.uint8, n),
        _vec("pod_rate", pod_rate, np.float64, n),
        f,
        _vec("dist_st", dist_st, np.float64, c),
        np.ascontiguousarray(rc[:, 0]),
        np.ascontiguousarray(rc[:, 1]),
        _vec("potential", potential, np.float64, c),
        float(horizon_h),
        float(move_cost),
        int(n_cand),
        out_pod,
        out_cell,
        out_saving,
    )
    return [(int(out_pod[i]), int(out_cell[i]), float(out_saving[i])) for i in range(k)]


def affinity_mix(copies, seed_order, nbr, nbr_w, *, n_pods: int, slots: int) -> np.ndarray:
    """int32[n_pods, slots]: SKUs per pod slot, co-ordered SKUs together (-1: nothing left).

    ``copies`` int[S]: on how many pods each SKU goes (sum <= n_pods * slots for every copy to fit);
    ``seed_order`` int[S]: a permutation, the order pods are seeded in (e.g. fastest SKU first);
    ``nbr``/``nbr_w`` [S, k] from `sku_affinity` (weights > 0 where nbr >= 0).
    """
    cp = _vec("copies", copies, np.int64).copy()
    s = cp.shape[0]
    order = _vec("seed_order", seed_order, np.int64, s)
    if not np.array_equal(np.sort(order), np.arange(s)):
        raise ValueError("seed_order must be a permutation of the SKUs")
    nb = np.ascontiguousarray(nbr, dtype=np.int64)
    w = np.ascontiguousarray(nbr_w, dtype=np.float64)
    if nb.ndim != 2 or nb.shape[0] != s or w.shape != nb.shape:
        raise ValueError(f"nbr and nbr_w must be [{s}, k]")
    if np.any(w[nb >= 0] <= 0):
        raise ValueError("nbr_w must be positive where nbr names a SKU")
    out = np.empty((n_pods, slots), dtype=np.int32)
    kern.affinity_mix_kernel(cp, order, nb, w, int(n_pods), int(slots), out)
    return out
