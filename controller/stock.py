"""Stock control: backorders that wait for stock, and purchase orders from the replenishment policy.

`StockControl` is one part of `Dispatcher` (a mixin over the same state, like `Decisions`).

A line whose SKU has no free unit anywhere is **backordered**: it waits here, not in a station's
pending list, so it never holds one of the station's ``max_lines_per_station`` places (before,
a station whose places filled with unfillable lines took no new order at all, and a long run
stopped picking). A line already at a station that no pod can serve any more (its stock went to
other lines, or is spread so thin that no one pod holds enough) is moved back here when the
station finds no pod for its lines. Backorders are released, oldest first, to their order's
station as soon as one pod can serve them again (a carton of the SKU stowed, or a reservation
cancelled).

Replenishment (`fctwin.controller.policies.replenishment`) is asked every review period with each
SKU's inventory position and the dispatcher's own estimate of demand per hour; its purchase
orders wait in `purchase_orders` until the supplier (the simulation, or a real WMS) takes them
with `take_purchase_orders`.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from fctwin.controller.records import Line

# How fast the demand estimate forgets: a time constant of a few hours follows the day's profile
# without chasing every order. The decayed units are divided by the decayed hours seen, but never
# by less than one time constant: in the first minutes one order of a slow SKU would otherwise read
# as tens of units per hour and trigger a wave of purchase orders (measured: 970 units/h of stow
# work for six hours, picks down to 290/h); early on the estimate errs low, which the initial
# stock covers.
DEMAND_TIME_CONSTANT_H = 4.0


@dataclass(frozen=True)
class PurchaseOrder:
    po_id: int
    t_s: float
    sku: int
    units: int


class StockControl:
    """Backorders, inventory position and purchase orders; mixed into `Dispatcher`."""

    def _init_stock(self, n_skus: int) -> None:
        self.backorders: dict[int, deque[tuple[int, Line]]] = {}  # sku -> (station index, line), oldest first
        self.backordered_lines = 0
        self.sku_backordered = [0] * n_skus  # units waiting as backorders
        self.sku_demand_open = [0] * n_skus  # units of arrived lines not yet picked
        self.sku_inbound = [0] * n_skus  # units ordered or at the dock, not yet stowed
        self.purchase_orders: list[PurchaseOrder] = []
        self.next_po_id = 1
        self.backorder_waits_s: list[float] = []  # per released line: time spent as a backorder
        self._backordered_at: dict[int, float] = {}  # id(line) -> when it became a backorder
        self._demand_new = [0] * n_skus  # units ordered since the last review
        self._demand_decayed = np.zeros(n_skus)
        self._demand_hours = 0.0
        self._last_review_s = 0.0
        self._next_review_s = 0.0
        self._reorders = not getattr(self.policies.replenishment, "never_orders", False)

    # ------------------------------------------------------------------ backorders

    def _backorder(self, station_idx: int, line: Line) -> None:
        self.backorders.setdefault(line.sku, deque()).append((station_idx, line))
        self.backordered_lines += 1
        self.sku_backordered[line.sku] += line.units
        self._backordered_at[id(line)] = self.t_s
        self.stats["lines_backordered"] += 1
        self.log.append(
            (
                self.t_s,
                "line_backordered",
                self.stations[station_idx].station_id,
                line.order_id,
                line.sku,
                line.units,
            )
        )

    def _backorder_unservable(self, station_idx: int) -> None:
        """Move the station's pending lines that no pod can serve to the backorders."""
        station = self.stations[station_idx]
        book = self.book
        keep: deque[Line] = deque()
        moved = []
        for ln in station.pending:
            if book.most_available(ln.sku) >= ln.units:
                keep.append(ln)
            else:
                moved.append(ln)
        if moved:
            station.pending = keep
            for ln in moved:
                self._backorder(station_idx, ln)

    def _release_backorders(self, sku: int) -> None:
        """Hand backorders of ``sku`` back to their stations while one pod can serve them."""
        waiting = self.backorders.get(sku)
        if not waiting:
            return
        book = self.book
        free = book.most_available(sku)
        claimed = 0
        while waiting and waiting[0][1].units <= free - claimed:
            idx, ln = waiting.popleft()
            claimed += ln.units
            self.backordered_lines -= 1
            self.sku_backordered[sku] -= ln.units
            self.backorder_waits_s.append(self.t_s - self._backordered_at.pop(id(ln), self.t_s))
            self.stations[idx].pending.append(ln)
            self.log.append(
                (self.t_s, "backorder_released", self.stations[idx].station_id, ln.order_id, sku, ln.units)
            )
        if not waiting:
            del self.backorders[sku]

    def oldest_backorder_age_s(self) -> float:
        if not self._backordered_at:
            return 0.0
        return self.t_s - min(self._backordered_at.values())

    def skus_out_of_stock(self) -> int:
        """SKUs customers are waiting for with no unit anywhere on the floor."""
        on_hand = self.book.sku_on_hand
        return sum(1 for sku in self.backorders if on_hand[sku] == 0)

    # ------------------------------------------------------------------ replenishment

    def inventory_position(self) -> np.ndarray:
        """int64[n_skus]: on hand + inbound - open demand (see the replenishment policies); stock on
        a pod out of reach (`InventoryBook.strand`) is not counted as on hand."""
        return (
            np.asarray(self.book.sku_on_hand, dtype=np.int64)
            - np.asarray(self.book.sku_stranded, dtype=np.int64)
            + np.asarray(self.sku_inbound, dtype=np.int64)
            - np.asarray(self.sku_demand_open, dtype=np.int64)
        )

    def demand_per_h(self) -> np.ndarray:
        """float64[n_skus]: units ordered per hour per SKU, exponentially weighted over recent hours."""
        return self._demand_decayed / max(self._demand_hours, DEMAND_TIME_CONSTANT_H)

    def _review_stock(self) -> None:
        dt_h = (self.t_s - self._last_review_s) / 3600.0
        decay = math.exp(-dt_h / DEMAND_TIME_CONSTANT_H)
        self._demand_decayed *= decay
        self._demand_decayed += np.asarray(self._demand_new, dtype=np.float64)
        self._demand_hours = self._demand_hours * decay + dt_h
        self._demand_new = [0] * len(self._demand_new)
        self._last_review_s = self.t_s
        policy = self.policies.replenishment
        self._next_review_s = self.t_s + float(getattr(policy, "review_s", 60.0))
        for sku, units in policy.reorders(self, self.inventory_position(), self.demand_per_h()):
            if units <= 0:
                continue
            po = PurchaseOrder(self.next_po_id, self.t_s, int(sku), int(units))
            self.next_po_id += 1
            self.purchase_orders.append(po)
            self.sku_inbound[po.sku] += po.units
            self.stats["purchase_orders"] += 1
            self.stats["units_ordered_from_supplier"] += po.units
            self.log.append((self.t_s, "po_created", "", po.po_id, po.sku, po.units))

    def take_purchase_orders(self) -> list[PurchaseOrder]:
        """The purchase orders made since the last call (the supplier's in-tray)."""
        out, self.purchase_orders = self.purchase_orders, []
        return out
