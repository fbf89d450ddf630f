"""The inbound network's dock arrivals for the run's window, when the scene couples one in."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fctwin.sim.scene import Scene


def inbound_arrivals(scene: Scene) -> list | None:
    """Dock arrivals in run time (the run starts at 0 s), or None when the scene has no inbound scenario."""
    if not scene.spec.inbound.scenario:
        return None
    from fctwin.sim.inbound.coupling import dock_arrivals

    # The run starts at `orders.start_hour` of `inbound.start_day`: take the network's dock
    # arrivals from that moment on, in run time.
    offset_s = scene.spec.orders.start_hour * 3600.0
    window = dock_arrivals(
        (Path(scene.base_dir) / scene.spec.inbound.scenario),
        start_day=scene.spec.inbound.start_day,
        days=(offset_s + scene.run_s) / 86400.0,
        seed=scene.seed,
        n_fc_skus=scene.skus.count,
    )
    return [replace(a, t_s=a.t_s - offset_s) for a in window if a.t_s >= offset_s]


def inbound_promotions(scene: Scene) -> list:
    """The coupled network's promotions in run hours (`orders.promotions_from_inbound`): the SKUs
    whose demand the network lifts, lifted in this FC's order stream too."""
    if not scene.spec.inbound.scenario:
        return []
    from fctwin.sim.inbound.coupling import promotion_windows

    offset_h = float(scene.spec.orders.start_hour)
    windows = promotion_windows(
        (Path(scene.base_dir) / scene.spec.inbound.scenario),
        start_day=scene.spec.inbound.start_day,
        days=(offset_h * 3600.0 + scene.run_s) / 86400.0,
        seed=scene.seed,
        n_fc_skus=scene.skus.count,
    )
    return [replace(w, start_h=w.start_h - offset_h) for w in windows]
