"""Initial slotting when a scene is built: which SKUs share a pod, and which cell each pod starts on.

`place_pods` is what the scene loader calls for every ``pods.placement`` but ``"random"`` (which
keeps the loader's own draws, bit for bit). Methods:

- ``class_based``: pods ranked by expected retrievals, split 20/30/50% into A/B/C; A pods on the
  nearest cells (by mean distance to the pick stations; `near_cells` spreads the floor's spare
  cells among them), in random order within a class;
- ``turnover``: the k-th fastest pod on the k-th nearest cell;
- ``affinity``: SKUs mixed on pods by co-occurrence in an order history (`affinity_mix`), pods on
  random cells;
- ``combined``: affinity mixing and turnover positions.

SKU copies: every SKU on one pod, the remaining slots to SKUs drawn by popularity (as the random
placement does), never twice on one pod.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.slotting.estimates import CLASS_SHARES, velocity_classes
from fctwin.controller.slotting.kernels import affinity_mix, pod_rates, sku_affinity

__all__ = ["METHODS", "SPARE_FRAC", "near_cells", "place_pods"]

METHODS = ("class_based", "turnover", "affinity", "combined")
SPARE_FRAC = 1.0  # free cells spread among the filled ones, per pod (capped by the floor; `near_cells`)


def place_pods(
    *,
    method: str,
    rng: np.random.Generator,
    demand_prob: np.ndarray,
    n_pods: int,
    slots: int,
    units_per_slot: int,
    cell_dist: np.ndarray,
    history: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(cell index int64[n_pods] into the storage cells, sku int32[n_pods, slots] with -1 empty).

    ``cell_dist`` float64[C]: each storage cell's mean distance to the pick stations;
    ``history``: (order_ptr, line_sku) for the affinity methods.
    """
    if method not in METHODS:
        raise ValueError(f"unknown placement {method!r}; known: random, {', '.join(METHODS)}")
    n_skus = len(demand_prob)
    n_slots = n_pods * slots
    copies = np.zeros(n_skus, dtype=np.int64)
    base = rng.permutation(n_skus)[: min(n_skus, n_slots)]
    copies[base] = 1
    if n_slots > len(base):
        extra = rng.choice(n_skus, size=n_slots - len(base), p=demand_prob)
        copies += np.bincount(extra, minlength=n_skus)
    copies = np.minimum(copies, n_pods)  # at most once per pod
    if method in ("affinity", "combined"):
        if history is None:
            raise ValueError(f"placement {method!r} needs an order history")
        nbr, cnt = sku_affinity(history[0], history[1], n_skus, k=min(16, max(1, slots * 2)))
        # weight of neighbour b of a: P(a | b), the share of b's orders that also hold a, so a
        # bestseller (in every other order) does not pull every SKU onto its pods
        n_orders_of = np.bincount(history[1], minlength=n_skus).astype(np.float64)
        w = np.where(nbr >= 0, cnt / np.maximum(n_orders_of[np.maximum(nbr, 0)], 1.0), 0.0)
        seed_order = np.lexsort((np.arange(n_skus), -demand_prob))  # fastest SKU seeds the first pod
        sku = affinity_mix(copies, seed_order, nbr, w, n_pods=n_pods, slots=slots)
    else:
        sku = _random_mix(copies, rng, n_pods, slots)
    units = np.where(sku >= 0, units_per_slot, 0).astype(np.int32)
    rate = pod_rates(sku, units, demand_prob)
    n_cells = len(cell_dist)
    near = near_cells(cell_dist, n_pods)  # the nearest cells, with a few spare ones among them
    if method == "affinity":
        cells = np.sort(rng.choice(n_cells, size=n_pods, replace=False))
        return cells.astype(np.int64), sku
    order = np.lexsort((np.arange(n_pods), -rate))  # fastest first
    cells = np.empty(n_pods, dtype=np.int64)
    if method in ("turnover", "combined"):
        cells[order] = near
        return cells, sku
    cls = velocity_classes(rate, CLASS_SHARES)
    for c in range(len(CLASS_SHARES)):
        pods = np.flatnonzero(cls == c)
        start = int((cls < c).sum())
        zone = near[start : start + len(pods)]
        cells[pods] = rng.permutation(zone)
    return cells, sku


def near_cells(cell_dist: np.ndarray, n_pods: int, spare_frac: float | None = None) -> np.ndarray:
    """int64[n_pods]: the storage cells the non-random placements fill, nearest first.

    Ranks the cells by distance and leaves ``spare_frac`` x ``n_pods`` of them free (at most the
    floor's spare cells; the default `SPARE_FRAC` = all of them), spread evenly through the ranks:
    fast pods near the stations, at the floor's own density. Why not pack the nearest cells solid:

    - a block packed solid next to the stations leaves a loaded unit no cell to step aside into;
      on fc_small the planner then livelocked in the one-cell aisles (turnover placement, balanced
      load, seeds 3, 5, 6: 450-660 units/h and 31-48 m per unit picked against ~700 and ~25);
    - a returning pod needs a free cell near the station it leaves: with the nearest cells packed
      (5% spare) fc_large's class_based bundle drove 69 m per unit picked, with the spare cells
      spread 54 (random 90, nearest_free 56; seed 1, 1 h).
    """
    frac = SPARE_FRAC if spare_frac is None else spare_frac
    n_cells = len(cell_dist)
    ranked = np.lexsort((np.arange(n_cells), cell_dist))
    holes = min(n_cells - n_pods, int(round(frac * n_pods)))
    if holes <= 0:
        return ranked[:n_pods]
    span = ranked[: n_pods + holes]
    skip = np.round(np.linspace(0, len(span) - 1, holes + 2)[1:-1]).astype(np.int64)
    keep = np.ones(len(span), dtype=bool)
    keep[skip] = False
    return span[keep]


def _random_mix(copies: np.ndarray, rng: np.random.Generator, n_pods: int, slots: int) -> np.ndarray:
    """Copies dealt to pods at random, no SKU twice on a pod (a clash goes to the next pod with room)."""
    deck = rng.permutation(np.repeat(np.arange(len(copies)), copies))
    out = np.full((n_pods, slots), -1, dtype=np.int32)
    fill = np.zeros(n_pods, dtype=np.int64)
    held: list[set[int]] = [set() for _ in range(n_pods)]
    p = 0
    for s in deck.tolist():
        for q in range(n_pods):
            pod = (p + q) % n_pods
            if fill[pod] < slots and s not in held[pod]:
                out[pod, fill[pod]] = s
                fill[pod] += 1
                held[pod].add(s)
                p = (pod + 1) % n_pods
                break
    return out
