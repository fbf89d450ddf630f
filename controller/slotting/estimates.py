"""What the slotting policies know of demand during a run: SKU and pod velocity, SKU affinity.

One `DemandEstimate` per dispatcher (`estimate_for`), shared by its pod-storage and stow policies.
It reads the orders the dispatcher has received (never the scene's demand model, which the
controller does not see) and keeps:

- SKU velocity: decayed line counts (half-life ``half_life_h``) smoothed towards a prior share
  (``FloorPlan.sku_demand_prob`` when the host gives one, else uniform) with ``prior_lines``
  pseudo-lines, scaled to lines per hour. `set_forecast` replaces the prior (the Eluna agent's
  hook for pre-positioning ahead of predicted demand);
- pod velocity: each pod's share of its SKUs' velocity (`kernels.pod_rates`), refreshed every
  ``refresh_s`` of simulated time;
- SKU affinity: top-k co-ordered SKUs from the orders seen (`kernels.sku_affinity`), refreshed
  every ``affinity_refresh_s``;
- per storage cell: the mean loaded-path distance to the pick stations.

Velocity classes (A, B, C as 0, 1, 2) split pods and SKUs by rate rank into ``class_shares``.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING

import numpy as np

from fctwin.controller.slotting.kernels import pod_rates, sku_affinity, storage_potential

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher

__all__ = ["DemandEstimate", "estimate_for", "free_storage_mask"]

_ESTIMATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

CLASS_SHARES = (0.2, 0.3, 0.5)  # A, B, C shares of pods (and SKUs) by rate rank


def estimate_for(d: Dispatcher) -> DemandEstimate:
    """The dispatcher's shared estimate (built on first use)."""
    est = _ESTIMATES.get(d)
    if est is None:
        est = _ESTIMATES[d] = DemandEstimate(d)
    return est


def velocity_classes(rates: np.ndarray, shares=CLASS_SHARES) -> np.ndarray:
    """int8[N]: 0 for the fastest ``shares[0]`` of the items, 1 for the next, ...; ties by index."""
    order = np.lexsort((np.arange(len(rates)), -rates))
    bounds = np.round(np.cumsum(shares) * len(rates)).astype(np.int64)
    cls = np.empty(len(rates), dtype=np.int8)
    cls[order] = np.searchsorted(bounds, np.arange(len(rates)), side="right").clip(0, len(shares) - 1)
    return cls


def free_storage_mask(d: Dispatcher, avoid=None) -> np.ndarray:
    """bool[C] over ``d.storage_cells``: free by the rule of `pod_storage.free_storage_test`."""
    free = ~d.pods_mask[d._storage_rows, d._storage_cols]
    slot = d._storage_slot
    taken = [
        d.return_targets,
        d._cell_owner,
        d.blocked_cells,
        (u.park for u in d.units if u.park is not None),
    ]
    if avoid is not None:
        taken.append((avoid,))
    for cells in taken:
        for cell in cells:
            k = slot.get(cell)
            if k is not None:
                free[k] = False
    return free


class DemandEstimate:
    def __init__(
        self,
        d: Dispatcher,
        *,
        half_life_h: float = 1.0,
        prior_lines: float = 200.0,
        refresh_s: float = 60.0,
        affinity_refresh_s: float = 900.0,
        affinity_k: int = 10,
    ):
        self.half_life_h = half_life_h
        self.prior_lines = prior_lines
        self.refresh_s = refresh_s
        self.affinity_refresh_s = affinity_refresh_s
        self.affinity_k = affinity_k
        n_skus = len(d.plan.sku_mass_kg)
        self.n_skus = n_skus
        prior = getattr(d.plan, "sku_demand_prob", None)
        self.prior = np.full(n_skus, 1.0 / n_skus) if prior is None else np.asarray(prior, dtype=np.float64)
        self.counts = np.zeros(n_skus)  # decayed line counts
        self.total = 0.0
        self._t_h = 0.0
        self._last_oid = 0
        self._ptr: list[int] = [0]
        self._skus: list[int] = []
        self._rates_at = -math.inf
        self._aff_at = -math.inf
        self.nbr = np.full((n_skus, affinity_k), -1, dtype=np.int32)
        self.cnt = np.zeros((n_skus, affinity_k), dtype=np.int32)
        rows, cols = d._storage_rows, d._storage_cols
        picks = [s for s in d.stations if s.kind == "pick"] or list(d.stations)
        dist = np.zeros(len(rows))
        for s in picks:
            ds = s.distance[rows, cols].astype(np.float64)
            dist += np.where(ds < 0, ds.max() + 10.0 if ds.size else 0.0, ds)
        self.dist_st = dist / max(1, len(picks))
        self.pod_rate = np.zeros(len(d.book.pod_cell))
        self.pod_class = np.zeros(len(d.book.pod_cell), dtype=np.int8)
        self.sku_class = np.zeros(n_skus, dtype=np.int8)
        self.potential = np.zeros(len(rows))

    # ------------------------------------------------------------------ observing

    def set_forecast(self, sku_share: np.ndarray) -> None:
        """Replace the prior share of demand per SKU (float[S], any positive scale)."""
        p = np.asarray(sku_share, dtype=np.float64)
        self.prior = p / p.sum()
        self._rates_at = -math.inf

    def observe(self, d: Dispatcher) -> None:
        """Take in the orders received since the last call (decaying older counts)."""
        t_h = d.t_s / 3600.0
        if t_h > self._t_h:
            f = 0.5 ** ((t_h - self._t_h) / self.half_life_h)
            self.counts *= f
            self.total *= f
            self._t_h = t_h
        oid = self._last_oid + 1
        orders = d.orders
        while oid in orders:
            skus = sorted({ln.sku for ln in orders[oid].order.lines})
            for s in skus:
                self.counts[s] += 1.0
            self.total += len(skus)
            self._skus.extend(skus)
            self._ptr.append(len(self._skus))
            oid += 1
        self._last_oid = oid - 1

    def sku_rate(self) -> np.ndarray:
        """float64[S]: lines per hour, smoothed towards the prior."""
        share = (self.counts + self.prior_lines * self.prior) / (self.total + self.prior_lines)
        # lines per hour seen: a decayed count over an effective window that grows from 0
        window_h = self.half_life_h / math.log(2.0) * (1.0 - 0.5 ** (self._t_h / self.half_life_h))
        per_h = self.total / window_h if window_h > 1e-9 else 0.0
        return share * max(per_h, 1.0)

    def refresh(self, d: Dispatcher, *, force: bool = False) -> None:
        """Bring velocities, classes and potentials up to date (every ``refresh_s``)."""
        self.observe(d)
        if not force and d.t_s - self._rates_at < self.refresh_s:
            return
        self._rates_at = d.t_s
        rate = self.sku_rate()
        book = d.book
        n_pods = len(book.contents)
        k = max(1, max((len(c) for c in book.contents), default=1))
        ss = np.full((n_pods, k), -1, dtype=np.int32)
        su = np.zeros((n_pods, k), dtype=np.int32)
        for p, c in enumerate(book.contents):
            for j, (s, u) in enumerate(c.items()):
                ss[p, j] = s
                su[p, j] = u
        self.pod_rate = pod_rates(ss, su, rate)
        self.pod_class = velocity_classes(self.pod_rate)
        self.sku_class = velocity_classes(rate)
        self.potential = storage_potential(self.dist_st, self.pod_rate)

    def affinity(self, d: Dispatcher) -> tuple[np.ndarray, np.ndarray]:
        """(nbr, cnt) from the orders seen so far (every ``affinity_refresh_s``)."""
        self.observe(d)
        if d.t_s - self._aff_at >= self.affinity_refresh_s and len(self._ptr) > 1:
            self._aff_at = d.t_s
            self.nbr, self.cnt = sku_affinity(
                np.asarray(self._ptr), np.asarray(self._skus, dtype=np.int32), self.n_skus, k=self.affinity_k
            )
        return self.nbr, self.cnt
