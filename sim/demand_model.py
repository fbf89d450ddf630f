"""Which SKUs an order's lines name: popularity, families and baskets, drift and promotions.

`DemandModel` is the SKU side of the order stream (`fctwin.sim.demand.order_process`) and of the
order histories that slotting learns from (`sample_history`). Without structure in the scene
(no ``orders.basket``, ``orders.drift`` or ``orders.promotions``) it draws exactly as the order stream
always did: every line independently by popularity, one ``searchsorted`` over the cumulative
popularity, the same random numbers in the same order (the pinned event logs depend on it).

With structure:

- **baskets**: the first line is drawn by popularity; each further line comes, with probability
  ``basket.same_family``, from the first line's family (by popularity within it), else from the
  whole catalogue. Co-ordered SKUs are what affinity slotting exploits.
- **drift**: every ``drift.interval_h``, a share of the SKUs trade popularity with random others
  (its own random stream, so the order stream's draws stay aligned).
- **promotions**: a family's popularity times a multiplier during a time window; and, with
  ``orders.promotions_from_inbound``, single SKUs on promotion in the coupled inbound network's
  demand model (`fctwin.sim.inbound.coupling.promotion_windows`), at the network's lift.
"""

from __future__ import annotations

import numpy as np

from fctwin.robots.distributions import make_sampler
from fctwin.sim.seeds import stream

__all__ = ["DemandModel", "sample_history"]


class DemandModel:
    """SKU draws for order lines at simulated time ``t_h`` (hours since the run started).

    ``demand_prob``: float64[S] base popularity (sums to 1); ``family``: int32[S] or None;
    ``orders``: the scene's `Orders` table; ``seed``: the scene's seed root (drift's stream);
    ``sku_promotions``: windows with ``sku``, ``start_h``, ``hours``, ``multiplier`` (a coupled
    inbound network's promotions, `fctwin.sim.inbound.coupling.PromotionWindow`).
    """

    def __init__(
        self, demand_prob: np.ndarray, family: np.ndarray | None, orders, seed: int, sku_promotions=()
    ):
        self.base = np.asarray(demand_prob, dtype=np.float64)
        self.n = len(self.base)
        self.family = family
        self.basket = orders.basket
        self.drift = orders.drift
        self.promotions = list(orders.promotions)
        self.sku_promotions = list(sku_promotions)
        self.structured = (
            self.basket is not None
            or self.drift is not None
            or bool(self.promotions)
            or bool(self.sku_promotions)
        )
        self.popularity = self.base.copy()  # drifted base, before promotions
        self.weights = self.base  # what lines are drawn from now
        self.cdf = np.cumsum(self.base)
        self._drift_rng = stream(seed, "demand.drift")
        self._drift_steps = 0
        self._promo_key: tuple[int, ...] = ()
        if family is not None:
            order = np.argsort(family, kind="stable")
            self._members = order.astype(np.int64)  # SKUs grouped by family, ascending within
            counts = np.bincount(family, minlength=int(family.max()) + 1)
            self._fam_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._fam_cdf = np.empty(self.n, dtype=np.float64)
            self._family_cdfs()

    # ------------------------------------------------------------------ time

    def at(self, t_h: float) -> None:
        """Bring drift and promotions to simulated hour ``t_h`` (call before drawing)."""
        if not self.structured:
            return
        changed = False
        if self.drift is not None:
            due = int(t_h // self.drift.interval_h)
            while self._drift_steps < due:
                self._drift_steps += 1
                k = int(round(self.drift.swap_frac * self.n))
                if k:
                    a = self._drift_rng.choice(self.n, size=k, replace=False)
                    b = self._drift_rng.choice(self.n, size=k, replace=False)
                    pa = self.popularity[a].copy()
                    self.popularity[a] = self.popularity[b]
                    self.popularity[b] = pa
                changed = True
        key = tuple(k for k, p in enumerate(self.promotions) if p.start_h <= t_h < p.start_h + p.hours)
        key += tuple(
            -1 - k for k, p in enumerate(self.sku_promotions) if p.start_h <= t_h < p.start_h + p.hours
        )
        if key != self._promo_key:
            self._promo_key = key
            changed = True
        if changed:
            w = self.popularity.copy()
            lift = np.ones(self.n)
            for k in key:
                if k >= 0:
                    p = self.promotions[k]
                    w[self.family == p.family] *= p.multiplier
                else:  # several network SKUs may map to one FC SKU: lift it once, by the most
                    p = self.sku_promotions[-1 - k]
                    lift[p.sku] = max(lift[p.sku], p.multiplier)
            w *= lift
            self.weights = w / w.sum()
            self.cdf = np.cumsum(self.weights)
            if self.family is not None:
                self._family_cdfs()

    def _family_cdfs(self) -> None:
        w = self.weights[self._members]
        for f in range(len(self._fam_start) - 1):
            lo, hi = self._fam_start[f], self._fam_start[f + 1]
            self._fam_cdf[lo:hi] = np.cumsum(w[lo:hi])

    # ------------------------------------------------------------------ draws

    def draw(self, rng: np.random.Generator, n_lines: int) -> np.ndarray:
        """SKU of each of an order's ``n_lines`` lines (int64[n_lines]; repeats allowed, merged later)."""
        cdf = self.cdf
        if self.basket is None:
            skus = np.searchsorted(cdf, rng.random(n_lines) * cdf[-1], side="right")
            return np.minimum(skus, self.n - 1)
        first = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), self.n - 1)
        out = np.empty(n_lines, dtype=np.int64)
        out[0] = first
        f = int(self.family[first])
        lo, hi = int(self._fam_start[f]), int(self._fam_start[f + 1])
        fam_cdf = self._fam_cdf[lo:hi]
        for j in range(1, n_lines):
            if rng.random() < self.basket.same_family:
                k = min(int(np.searchsorted(fam_cdf, rng.random() * fam_cdf[-1], side="right")), hi - lo - 1)
                out[j] = self._members[lo + k]
            else:
                out[j] = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), self.n - 1)
        return out


def sample_history(
    demand_prob: np.ndarray,
    family: np.ndarray | None,
    orders,
    *,
    seed: int,
    n_orders: int,
    name: str = "slotting.history",
) -> tuple[np.ndarray, np.ndarray]:
    """``n_orders`` orders drawn from the scene's demand model at time 0, as CSR arrays.

    Returns ``(order_ptr int64[n_orders + 1], line_sku int32[L])``: order ``i``'s distinct SKUs are
    ``line_sku[order_ptr[i]:order_ptr[i + 1]]``. A stand-in for last month's order history (its own
    random stream ``name``, so the run's orders are not disturbed).
    """
    rng = stream(seed, name)
    model = DemandModel(demand_prob, family, orders, seed)
    lines = make_sampler(orders.lines_per_order.model_dump())
    ptr = np.zeros(n_orders + 1, dtype=np.int64)
    out: list[np.ndarray] = []
    for i in range(n_orders):
        skus = np.unique(model.draw(rng, max(1, int(lines(rng)))))
        out.append(skus)
        ptr[i + 1] = ptr[i] + len(skus)
    line_sku = np.concatenate(out).astype(np.int32) if out else np.zeros(0, dtype=np.int32)
    return ptr, line_sku
