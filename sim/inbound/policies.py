"""Replenishment policies behind one decision interface.

A policy sees a :class:`TierView` (one tier of stock points at the end of a day, arrays over all SKUs) and
returns
:class:`Order` objects. The model owns everything else (allocation from upstream stock, shipments, costs),
so the
dispatcher agent can later take a tier over by implementing ``decide(view) -> list[Order]``.

Order-up-to levels use the echelon inventory position for upper tiers (own stock + pipeline + everything
downstream), the textbook way to avoid nested safety stocks in serial chains.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from .scene import PolicyCfg

__all__ = ["LaneOption", "TierView", "Order", "Policy", "POLICIES", "make_policy", "MinMax"]


@dataclass(frozen=True)
class LaneOption:
    """A way to ship to one stock point. ``lead_time_d`` is the planned door-to-available mean (no
    disruption),
    echelon (down to sellable at the FC) for upper tiers; ``projected_delay_d`` is what known disruptions
    add."""

    lane_id: str
    mode: str
    provider: str
    lead_time_d: float
    projected_delay_d: float
    suspended: bool
    freight_usd_per_unit: float


@dataclass(frozen=True)
class TierView:
    """One tier at the end of ``day``. Arrays are (N, S): stock points x SKUs, units or units/day."""

    day: int
    tier: str  # "hub" | "rs" | "fc": the tier whose stock points order
    upstream: str  # "seller" | "hub" | "rs"
    node_ids: tuple[str, ...]
    on_hand: np.ndarray
    pipeline: np.ndarray  # ordered, not yet available at the node
    downstream: np.ndarray  # on hand + pipeline below the node (echelon); zeros for the FC tier
    mean_d: np.ndarray  # forecast demand through the node, units/day
    std_d: np.ndarray  # one-step forecast error, units/day
    review_d: int
    review_due: bool
    primary: tuple[LaneOption | None, ...]  # per node; None: domestic leg
    expedite: tuple[LaneOption | None, ...]
    alternates: tuple[tuple[LaneOption, ...], ...]
    domestic_lead_d: float  # lead time of a domestic leg (FC tier), days
    cfg: PolicyCfg
    due_within: Callable[[float], np.ndarray] = field(repr=False)  # pipeline expected within h days, (N, S)

    @property
    def position(self) -> np.ndarray:
        return self.on_hand + self.pipeline + self.downstream


@dataclass(frozen=True)
class Order:
    node: int  # index into view.node_ids
    qty: np.ndarray  # (S,) int64 units
    lane_id: str | None  # None: domestic leg from the upstream tier
    kind: Literal["regular", "expedite", "transfer"] = "regular"
    from_node: int | None = None  # transfers: donor stock point of the same tier


class Policy(Protocol):
    name: str

    def decide(self, view: TierView) -> list[Order]: ...


def _lead(view: TierView, n: int, opt: LaneOption | None, *, projected: bool = False) -> float:
    if opt is None:
        return view.domestic_lead_d
    return opt.lead_time_d + (opt.projected_delay_d if projected else 0.0)


def _level(view: TierView, n: int, horizon_d: float) -> np.ndarray:
    """Mean demand over the horizon plus z standard deviations (i.i.d. daily errors), units, (S,)."""
    h = max(horizon_d, 0.0)
    return view.mean_d[n] * h + view.cfg.service_z * view.std_d[n] * np.sqrt(h)


def _qty(x: np.ndarray) -> np.ndarray:
    return np.maximum(0, np.ceil(x - 1e-9)).astype(np.int64)


class BaseStock:
    """Periodic review (R, S): every R days order up to S = demand over L + R plus safety stock."""

    name = "base_stock"

    def __init__(self, *, projected: bool = False):
        self.projected = projected

    def lane_for(self, view: TierView, n: int) -> LaneOption | None:
        return view.primary[n]

    def decide(self, view: TierView) -> list[Order]:
        if not view.review_due:
            return []
        orders = []
        for n in range(len(view.node_ids)):
            opt = self.lane_for(view, n)
            if opt is not None and opt.suspended:
                continue  # nothing sails; the next review re-plans
            if view.cfg.base_stock_units is not None:
                target = np.full(view.on_hand.shape[1], float(view.cfg.base_stock_units))
            else:
                target = _level(view, n, _lead(view, n, opt, projected=self.projected) + view.review_d)
            q = _qty(target - view.position[n])
            if q.any():
                orders.append(Order(n, q, None if opt is None else opt.lane_id))
        return orders


class MinMax:
    """(s, S) on inventory position (AWD-style min/max auto-replenishment): when IP <= s, order up to S.

    s covers the lead time with safety stock; S - s is ``fc_cover_d`` days of demand on the FC tier and one
    review
    period elsewhere.
    """

    name = "min_max"

    def decide(self, view: TierView) -> list[Order]:
        orders = []
        for n in range(len(view.node_ids)):
            opt = view.primary[n]
            if opt is not None and opt.suspended:
                continue
            s_low = _level(view, n, _lead(view, n, opt))
            span_d = view.cfg.fc_cover_d if view.tier == "fc" else view.review_d
            s_high = s_low + view.mean_d[n] * span_d
            ip = view.position[n]
            q = np.where(ip <= s_low, _qty(s_high - ip), 0)
            if q.any():
                orders.append(Order(n, q, None if opt is None else opt.lane_id))
        return orders


class RQ:
    """(r, Q): when IP <= r, order the smallest multiple of Q that lifts IP above r; Q = one review period."""

    name = "rq"

    def decide(self, view: TierView) -> list[Order]:
        orders = []
        for n in range(len(view.node_ids)):
            opt = view.primary[n]
            if opt is not None and opt.suspended:
                continue
            r = _level(view, n, _lead(view, n, opt))
            big_q = np.maximum(1.0, np.round(view.mean_d[n] * view.review_d))
            ip = view.position[n]
            k = np.where(ip <= r, np.floor((r - ip) / big_q) + 1, 0)
            q = (k * big_q).astype(np.int64)
            if q.any():
                orders.append(Order(n, q, None if opt is None else opt.lane_id))
        return orders


class DualMode(BaseStock):
    """Dual-index: ocean up to S_r on the full position; air up to S_e on the position due within the air
    lead.

    S_e carries no safety factor, so air flies only when the ocean pipeline is late or thin (the expedite
    premium
    is paid for lateness, not every week).
    """

    name = "dual_mode"

    def _expedite(self, view: TierView, n: int, cover_floor_d: float | None) -> Order | None:
        opt = view.expedite[n]
        if opt is None or opt.suspended:
            return None
        le = _lead(view, n, opt)
        near = view.on_hand[n] + view.downstream[n] + view.due_within(le)[n]
        if cover_floor_d is None:
            target = view.mean_d[n] * (le + 1.0)
            q = _qty(target - near)
        else:
            cover = near / np.maximum(view.mean_d[n], 1e-9)
            short = cover < cover_floor_d + le
            q = np.where(short, _qty(view.mean_d[n] * (cover_floor_d + le) - near), 0)
        return Order(n, q, opt.lane_id, kind="expedite") if q.any() else None

    def decide(self, view: TierView) -> list[Order]:
        orders = super().decide(view)
        for n in range(len(view.node_ids)):
            o = self._expedite(view, n, None)
            if o is not None:
                orders.append(o)
        return orders


class Resilient(DualMode):
    """Base-stock plus resilience rules, each from what is known today (disruptions that have started):

    - reroute / switch provider: book the lane (primary or alternate, any port or provider) with the shortest
      projected lead time when it beats the primary by ``reroute_min_gain_d``; suspended lanes are skipped;
    - plan with projected lead times, so a known delay raises the order-up-to level;
    - air expedite when projected cover (stock + goods due within the air lead) falls below
    ``expedite_cover_d``;
    - transfer from another region's stock when cover falls below ``transfer_cover_d`` and the donor holds
    more
      than ``donor_cover_d``.
    """

    name = "resilient"

    def __init__(self):
        super().__init__(projected=True)

    def lane_for(self, view: TierView, n: int) -> LaneOption | None:
        best = view.primary[n]
        if best is None:
            return None

        def eta(o: LaneOption) -> float:
            return float("inf") if o.suspended else o.lead_time_d + o.projected_delay_d

        if best.projected_delay_d <= 0 and not best.suspended:
            return best  # the primary is the planned lane: reroute only around a known disruption
        for alt in view.alternates[n]:
            if eta(alt) + view.cfg.reroute_min_gain_d < eta(best):
                best = alt
        return best

    def decide(self, view: TierView) -> list[Order]:
        orders = BaseStock.decide(self, view)
        for n in range(len(view.node_ids)):
            o = self._expedite(view, n, view.cfg.expedite_cover_d)
            if o is not None:
                orders.append(o)
        orders += self._transfers(view)
        return orders

    def _transfers(self, view: TierView) -> list[Order]:
        N = len(view.node_ids)
        if N < 2 or view.tier == "hub":
            return []
        mean = np.maximum(view.mean_d, 1e-9)
        stock = view.on_hand + view.downstream
        cover = (stock + view.due_within(view.domestic_lead_d + view.cfg.transfer_cover_d)) / mean
        spare = np.maximum(0.0, view.on_hand - view.cfg.donor_cover_d * view.mean_d)  # (N, S)
        orders = []
        for n in range(N):
            need = np.where(
                cover[n] < view.cfg.transfer_cover_d,
                view.cfg.transfer_cover_d * view.mean_d[n] - stock[n],
                0.0,
            )
            need = np.maximum(need, 0.0)
            if not need.any():
                continue
            for donor in np.argsort(-spare.sum(axis=1), kind="stable"):
                if donor == n or not need.any():
                    continue
                q = np.floor(np.minimum(need, spare[donor])).astype(np.int64)
                if q.any():
                    orders.append(Order(n, q, None, kind="transfer", from_node=int(donor)))
                    spare[donor] -= q
                    need -= q
        return orders


POLICIES: dict[str, Callable[[], Policy]] = {
    "base_stock": BaseStock,
    "min_max": MinMax,
    "rq": RQ,
    "dual_mode": DualMode,
    "resilient": Resilient,
}


def make_policy(name: str) -> Policy:
    return POLICIES[name]()
