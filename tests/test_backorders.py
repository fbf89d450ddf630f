"""Stock-outs never stall the floor: unfillable lines wait as backorders, not in station places.

The story the 24-hour run told (issue 14): popular SKUs ran dry, every pick station filled its
`max_lines_per_station` places with lines no pod could serve, and orders that could be filled
never reached a station: zero picks for hours. Here a SKU is asked for far beyond its stock ahead
of ordinary orders; the ordinary orders must still be picked, the short lines must wait as
backorders, and a carton of the SKU must release them until every order is done.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.dispatcher import Dispatcher
from fctwin.controller.orders import Carton, Order, OrderLine
from fctwin.sim.fleet_host import FleetHost
from fctwin.sim.fleet_link_local import LocalFleetLink
from fctwin.sim.run import floorplan_from_scene


def _run(dispatcher, link, frame, ticks, until=None):
    for _ in range(ticks):
        frame = link.exchange(dispatcher.tick(frame))
        if until is not None and until():
            break
    return frame


def test_a_station_cap_full_of_unfillable_lines_does_not_stop_picking(small_scene_dict, write_scene):
    raw = dict(small_scene_dict)
    raw["dispatch"] = {**raw.get("dispatch", {}), "replenishment": "none", "params": {}}
    host = FleetHost(write_scene(raw), world=False)
    plan, config = floorplan_from_scene(host.scene)
    dispatcher = Dispatcher(plan, config)
    link = LocalFleetLink(host)
    try:
        stock = np.zeros(len(plan.sku_mass_kg), dtype=np.int64)
        np.add.at(stock, plan.slot_sku[plan.slot_sku >= 0], plan.slot_units[plan.slot_sku >= 0])
        scarce = int(np.argmin(np.where(stock > 0, stock, np.iinfo(np.int64).max)))
        have = int(stock[scarce])
        picks = sum(1 for s in plan.stations if s.kind == "pick")
        short_orders = have + config.max_lines_per_station * picks + 20  # more than every place
        oid = 0
        for _ in range(short_orders):
            oid += 1
            dispatcher.submit_order(Order(order_id=oid, t_s=0.0, lines=[OrderLine(sku=scarce, units=1)]))
        # ordinary orders behind them, each for a SKU with plenty of stock
        plenty = [int(s) for s in np.argsort(-stock)[:10]]
        ordinary = []
        for sku in plenty:
            oid += 1
            ordinary.append(oid)
            dispatcher.submit_order(Order(order_id=oid, t_s=0.0, lines=[OrderLine(sku=sku, units=1)]))

        frame = _run(
            dispatcher,
            link,
            link.initial_frame(),
            6000,
            until=lambda: not any(o in dispatcher.orders for o in ordinary),
        )
        assert not any(o in dispatcher.orders for o in ordinary), "ordinary orders never completed"
        assert dispatcher.stats["units_picked"] >= have + len(ordinary)
        assert dispatcher.backordered_lines == short_orders - have
        assert all(ln.sku != scarce for s in dispatcher.stations for ln in s.pending)
        assert dispatcher.skus_out_of_stock() == 1
        assert dispatcher.oldest_backorder_age_s() > 0

        # stock arrives: the backorders are released and every order completes
        need = short_orders - have
        for k in range(-(-need // 12)):
            dispatcher.submit_carton(Carton(carton_id=k + 1, t_s=frame.t_s, sku=scarce, units=12))
        frame = _run(dispatcher, link, frame, 20000, until=lambda: not dispatcher.orders)
        assert not dispatcher.orders and dispatcher.backordered_lines == 0
        assert dispatcher.stats["orders_completed"] == short_orders + len(ordinary)
        assert len(dispatcher.backorder_waits_s) == need
        assert host.floor.stored_units() == dispatcher.book.total_units()  # book and floor agree
        assert sum(dispatcher.sku_demand_open) == 0 and sum(dispatcher.sku_inbound) == 0
    finally:
        link.close()
