"""Driving a small floor's dispatcher tick by tick, for the closure and `Withdraw` tests."""

from __future__ import annotations

import numpy as np

from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.orders import Order, OrderLine
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.fleet_link_local import LocalFleetLink
from fctwin.sim.run import floorplan_from_scene


def step(d, link, frame, ticks, until=None):
    """Up to ``ticks`` dispatcher ticks; stops early once ``until()`` holds. Returns the last frame."""
    for _ in range(ticks):
        frame = link.exchange(d.tick(frame))
        if until is not None and until():
            break
    return frame


def floor(small_scene_dict, write_scene, **dispatch):
    """The small scene's fleet host, a dispatcher over it (``[dispatch]`` keys as given, no
    replenishment) and the local link between them."""
    raw = dict(small_scene_dict)
    raw["dispatch"] = {**raw.get("dispatch", {}), "replenishment": "none", "params": {}, **dispatch}
    host = FleetHost(write_scene(raw), world=False)
    plan, config = floorplan_from_scene(host.scene)
    return host, Dispatcher(plan, config), LocalFleetLink(host)


def submit_orders(d, n, lines, seed, *, distinct=False):
    """Orders 1..n of ``lines`` one-unit lines each, of SKUs with 10 or more units on hand
    (``distinct``: no SKU twice in an order)."""
    rng = np.random.default_rng(seed)
    skus = [s for s in range(len(d.book.sku_on_hand)) if d.book.sku_on_hand[s] >= 10]
    for oid in range(1, n + 1):
        picked = rng.choice(skus, size=lines, replace=not distinct)
        d.submit_order(Order(order_id=oid, t_s=0.0, lines=[OrderLine(sku=int(s), units=1) for s in picked]))
