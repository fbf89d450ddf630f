"""The inbound network's dock arrivals for the run's window, when the scene couples one in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from fctwin.sim.scene import Scene, SceneError


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


@dataclass(frozen=True)
class DockWave:
    """A burst of cartons at the dock: ``cartons`` spread evenly over ``minutes`` from ``at_h``;
    ``skus`` one per carton in order, or None to draw them by popularity (the scene's waves)."""

    at_h: float
    minutes: float
    cartons: int
    skus: tuple[int, ...] | None = None
    source: str = "inbound.waves"


@lru_cache(maxsize=16)
def _release(path: str, port: str, strike_days: float, seed: int, n_fc_skus: int, start_day):
    from fctwin.sim.inbound.coupling import strike_release

    return strike_release(
        path, port=port, strike_days=strike_days, seed=seed, n_fc_skus=n_fc_skus, start_day=start_day
    )


def dock_waves(scene: Scene) -> list[DockWave]:
    """The run's waves at the dock, by start: the scene's ``inbound.waves`` and, with
    ``inbound.strike_wave``, the released backlog of a port strike in the inbound network (the
    network simulated with and without the strike on the run's seed; ``share`` of its cartons, SKUs
    drawn by the held units from the run's own stream, so the same scene and seed give the same
    wave). Raises SceneError naming ``inbound.strike_wave`` when the strike held nothing for this
    floor."""
    waves = [DockWave(w.at_h, w.minutes, w.cartons) for w in scene.spec.inbound.waves]
    sw = scene.spec.inbound.strike_wave
    if sw is not None:
        path = str((Path(scene.base_dir) / sw.scenario).resolve())
        try:
            rel = _release(
                path, sw.port, float(sw.strike_days), int(scene.seed), scene.skus.count, sw.start_day
            )
        except ValueError as exc:
            raise SceneError(scene.source, [("inbound.strike_wave", str(exc))]) from None
        per_carton = scene.spec.inbound.units_per_carton
        cartons = int(round(sw.share * rel.units / per_carton))
        if cartons < 1:
            raise SceneError(
                scene.source,
                [
                    (
                        "inbound.strike_wave.share",
                        f"{sw.share:g} of the {rel.units} units released is no carton",
                    )
                ],
            )
        skus = np.fromiter(rel.units_by_sku.keys(), dtype=np.int64)
        units = np.fromiter(rel.units_by_sku.values(), dtype=np.float64)
        from fctwin.sim.seeds import stream

        rng = stream(scene.seed, "demand.strike_wave")
        draw = rng.choice(skus, size=cartons, p=units / units.sum())
        waves.append(
            DockWave(
                sw.at_h,
                sw.minutes,
                cartons,
                tuple(int(k) for k in draw),
                source=f"strike at {sw.port} ({sw.strike_days:g} d), {len(rel.shipments)} shipment(s) held",
            )
        )
    return sorted(waves, key=lambda w: w.at_h)
