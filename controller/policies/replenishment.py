"""Replenishment: when the FC orders stock from its supplier, and how much (inventory control).

Asked once per review period (``review_min``, default every simulated minute) with the live
inventory position of every SKU::

    position = on hand (in pods) + inbound (ordered or at the dock, not yet stowed)
               - open demand (units of order lines that arrived and are not picked yet)

and answers with purchase orders ``[(sku, units), ...]``. The simulated supplier (or the
inbound-network model) delivers them as cartons at the dock after its lead time; stow stations put
them away. A policy only decides; it must not change the dispatcher's state.

RAWSim-O has no such family (its replenishment is a fixed inbound stream); these are the textbook
policies every inventory model is measured against: base-stock (R, S) and (s, S) on inventory
position, with demand estimated online from the orders seen so far (the dispatcher never reads the
scene's demand model: a real FC forecasts from what it sells).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from fctwin.controller.policies.base import Policy

if TYPE_CHECKING:
    from fctwin.controller.dispatcher import Dispatcher


class Replenishment(Policy):
    """Purchase orders from the inventory position; called every ``review_s`` of simulated time.

    ``position`` is int64[n_skus] (see the module docstring), ``demand_per_h`` float64[n_skus]
    the dispatcher's running estimate of units ordered per hour per SKU. Returns (sku, units)
    pairs, units > 0, in whole cartons of ``d.config.units_per_carton``. Must not mutate anything.
    """

    family = "replenishment"
    review_s: float = 60.0

    @abstractmethod
    def reorders(
        self, d: Dispatcher, position: np.ndarray, demand_per_h: np.ndarray
    ) -> list[tuple[int, int]]: ...


class NoReorder(Replenishment):
    """Never orders: stock comes only from the scene's fixed inbound stream (``inbound.cartons_per_h``) or
    from the inbound-network model. The default, so scenes written before the loop closed run as they did."""

    never_orders = True  # the dispatcher skips the review altogether (no cost, no events)

    def reorders(self, d, position, demand_per_h):
        return []


class BaseStock(Replenishment):
    """Order up to S on inventory position at every review (periodic review, (R, S)).

    S = D + z * sqrt(D), D = demand over lead time plus review period (Poisson demand, normal
    approximation), with the demand rate from the dispatcher's estimate. Orders are rounded up to
    whole cartons. Parameters: ``lead_time_h`` (the planner's belief about the supplier's lead time,
    not the true one), ``z`` (safety factor, 1.65 ~ 95% cycle service), ``review_min``,
    ``min_units`` (a floor on S so a SKU not yet seen keeps a carton).
    """

    def __init__(
        self, *, lead_time_h: float = 4.0, z: float = 1.65, review_min: float = 1.0, min_units: int = 0
    ):
        for name, v in (("lead_time_h", lead_time_h), ("z", z), ("review_min", review_min)):
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if review_min <= 0:
            raise ValueError("review_min must be > 0")
        self.lead_time_h = float(lead_time_h)
        self.z = float(z)
        self.review_s = 60.0 * float(review_min)
        self.min_units = int(min_units)

    def order_up_to(self, demand_per_h: np.ndarray) -> np.ndarray:
        over_h = self.lead_time_h + self.review_s / 3600.0
        mean = demand_per_h * over_h
        return np.maximum(np.ceil(mean + self.z * np.sqrt(mean)), self.min_units).astype(np.int64)

    def reorders(self, d, position, demand_per_h):
        carton = d.config.units_per_carton
        gap = self.order_up_to(demand_per_h) - position
        skus = np.flatnonzero(gap > 0)
        return [(int(s), int(-(-int(gap[s]) // carton) * carton)) for s in skus]


class MinMax(BaseStock):
    """(s, S): order up to S only when the position falls to s or below (fewer, larger orders).

    s is the base-stock level of `BaseStock`; S = s + ``order_h`` hours of demand (at least a carton).
    """

    def __init__(self, *, order_h: float = 2.0, **kw):
        super().__init__(**kw)
        if not (math.isfinite(order_h) and order_h > 0):
            raise ValueError(f"order_h must be a finite number > 0, got {order_h!r}")
        self.order_h = float(order_h)

    def reorders(self, d, position, demand_per_h):
        carton = d.config.units_per_carton
        s = self.order_up_to(demand_per_h)
        big_s = s + np.maximum(np.ceil(demand_per_h * self.order_h), carton).astype(np.int64)
        skus = np.flatnonzero(position <= s)
        skus = skus[s[skus] > 0]
        return [(int(k), int(-(-int(big_s[k] - position[k]) // carton) * carton)) for k in skus]
