"""Customer orders and inbound cartons as SimPy processes.

Orders arrive as a non-homogeneous Poisson process: the scene's rate scaled by a 24-hour profile
(hour of day = ``start_hour`` + simulated hours), sampled by thinning (Lewis & Shedler 1979).
Lines per order and units per line follow the scene's distributions; SKUs follow the popularity
(Zipf or ABC), with families, baskets, drift and promotions when the scene declares them
(`fctwin.sim.demand_model`). Cartons arrive at the docks as a Poisson stream, from the
inbound-network model when the scene names an inbound scenario, or from the supplier answering the
dispatcher's purchase orders (`supplier_process`, when the scene's dispatch.replenishment orders
stock), and reach a stow station after the dock hand-off time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fctwin.controller.orders import Carton, Order, OrderLine
from fctwin.robots.distributions import make_sampler
from fctwin.sim.demand_model import DemandModel
from fctwin.sim.scene import Scene
from fctwin.sim.seeds import stream

# A mild two-peak day when the scene gives no profile (relative rates, mean about 1).
DEFAULT_PROFILE = [
    0.3, 0.2, 0.2, 0.2, 0.3, 0.5, 0.8, 1.0, 1.2, 1.3, 1.3, 1.2,
    1.1, 1.2, 1.3, 1.4, 1.4, 1.3, 1.2, 1.2, 1.1, 0.9, 0.7, 0.5,
]  # fmt: skip


def hourly_profile(scene: Scene) -> np.ndarray:
    prof = np.asarray(scene.spec.orders.hourly_profile or DEFAULT_PROFILE, dtype=np.float64)
    mean = prof.mean()
    return prof / mean if mean > 0 else prof


def order_process(env, scene: Scene, submit: Callable[[Order], None], counters: dict, rng=None):
    """SimPy process: generate orders until the end of the run (``rng``: the run's
    ``demand.orders`` stream, given so a lookahead can re-seed it in place)."""
    spec = scene.spec.orders
    rng = rng if rng is not None else stream(scene.seed, "demand.orders")
    prof = hourly_profile(scene)
    peak = float(prof.max())
    rate_max_per_s = spec.rate_per_h * peak / 3600.0
    if rate_max_per_s <= 0:
        return
    lines = make_sampler(spec.lines_per_order.model_dump())
    units = make_sampler(spec.units_per_line.model_dump())
    promos = ()
    if spec.promotions_from_inbound:
        from fctwin.sim.run.inbound import inbound_promotions

        promos = inbound_promotions(scene)
    model = DemandModel(scene.skus.demand_prob, scene.skus.family, spec, scene.seed, sku_promotions=promos)
    oid = 0
    while True:
        yield env.timeout(float(rng.exponential(1.0 / rate_max_per_s)))
        hour = int((spec.start_hour + env.now / 3600.0) % 24)
        if rng.random() * peak > prof[hour]:
            continue  # thinned away
        n_lines = max(1, int(lines(rng)))
        model.at(env.now / 3600.0)
        skus = model.draw(rng, n_lines)
        seen: dict[int, int] = {}
        for s in skus:
            s = int(s)
            seen[s] = seen.get(s, 0) + max(1, int(units(rng)))
        oid += 1
        order = Order(order_id=oid, t_s=env.now, lines=[OrderLine(sku=s, units=u) for s, u in seen.items()])
        counters["orders"] += 1
        counters["units_ordered"] += sum(u for u in seen.values())
        submit(order)


def carton_process(
    env, scene: Scene, submit: Callable[[Carton], None], counters: dict, arrivals=None, rng=None
):
    """SimPy process: inbound cartons (Poisson, or a list of dock arrivals) ready at stow stations."""
    spec = scene.spec.inbound
    transfer_s = scene.spec.docks.transfer_to_stow_s
    rng = rng if rng is not None else stream(scene.seed, "demand.cartons")
    cid = 0
    if arrivals is not None:
        for a in arrivals:
            yield env.timeout(max(0.0, a.t_s + transfer_s - env.now))
            for _ in range(a.cartons):
                cid += 1
                counters["cartons"] += 1
                counters["units_arrived"] += a.units_per_carton
                submit(
                    Carton(
                        carton_id=cid,
                        t_s=env.now,
                        sku=int(a.sku) % scene.skus.count,
                        units=a.units_per_carton,
                    )
                )
        return
    if spec.cartons_per_h <= 0:
        return
    p = scene.skus.demand_prob
    cdf = np.cumsum(p)
    while True:
        yield env.timeout(float(rng.exponential(3600.0 / spec.cartons_per_h)))
        sku = int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(p) - 1))
        cid += 1
        counters["cartons"] += 1
        counters["units_arrived"] += spec.units_per_carton
        # The carton crosses the dock and reaches a stow station after the hand-off time.
        env.process(
            _deliver(
                env,
                transfer_s,
                Carton(carton_id=cid, t_s=env.now, sku=sku, units=spec.units_per_carton),
                submit,
            )
        )


def _deliver(env, delay_s: float, carton: Carton, submit):
    yield env.timeout(delay_s)
    submit(Carton(carton_id=carton.carton_id, t_s=env.now, sku=carton.sku, units=carton.units))


SUPPLIER_POLL_S = 60.0  # how often the supplier collects the dispatcher's purchase orders


def supplier_process(env, scene: Scene, take_orders: Callable[[], list], submit, counters: dict, rng=None):
    """SimPy process: the supplier behind the dock. Every minute it takes the dispatcher's purchase
    orders; each arrives after a lead time drawn from ``inbound.lead_time_h`` as whole cartons of
    ``inbound.units_per_carton``, which reach a stow station after the dock hand-off time."""
    spec = scene.spec.inbound
    transfer_s = scene.spec.docks.transfer_to_stow_s
    rng = rng if rng is not None else stream(scene.seed, "supplier.lead_time")
    lead_h = make_sampler(spec.lead_time_h.model_dump())
    per_carton = spec.units_per_carton
    next_cid = [10_000_000]  # carton ids apart from the scene's own stream (which counts from 1)
    while True:
        yield env.timeout(SUPPLIER_POLL_S)
        for po in take_orders():
            delay_s = max(0.0, float(lead_h(rng))) * 3600.0 + transfer_s
            env.process(_deliver_po(env, delay_s, po, per_carton, next_cid, submit, counters))


def _deliver_po(env, delay_s: float, po, per_carton: int, next_cid: list, submit, counters: dict):
    yield env.timeout(delay_s)
    left = po.units
    while left > 0:
        units = min(per_carton, left)
        left -= units
        next_cid[0] += 1
        counters["cartons"] += 1
        counters["units_arrived"] += units
        submit(Carton(carton_id=next_cid[0], t_s=env.now, sku=po.sku, units=units, po_id=po.po_id))


def wave_process(env, scene: Scene, submit: Callable[[Carton], None], counters: dict, rng=None, waves=None):
    """SimPy process: waves at the dock, cartons evenly spread over each wave. ``waves``
    (`fctwin.sim.run.inbound.DockWave`, default: the scene's ``inbound.waves``); a wave without its
    own SKUs draws them by popularity from its own stream (so a wave never shifts the Poisson
    stream's numbers). Carton ids start at 1,000,000 so they never meet the Poisson stream's."""
    if waves is None:
        waves = sorted(scene.spec.inbound.waves, key=lambda w: w.at_h)
    rng = rng if rng is not None else stream(scene.seed, "demand.carton_waves")
    transfer_s = scene.spec.docks.transfer_to_stow_s
    units = scene.spec.inbound.units_per_carton
    cdf = np.cumsum(scene.skus.demand_prob)
    cid = 1_000_000
    for w in waves:
        gap_s = w.minutes * 60.0 / w.cartons
        t0 = w.at_h * 3600.0
        skus = getattr(w, "skus", None)
        for k in range(w.cartons):
            yield env.timeout(max(0.0, t0 + k * gap_s + transfer_s - env.now))
            if skus is not None:
                sku = int(skus[k])
            else:
                sku = int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))
            cid += 1
            counters["cartons"] += 1
            counters["units_arrived"] += units
            submit(Carton(carton_id=cid, t_s=env.now, sku=sku, units=units))
