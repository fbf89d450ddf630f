"""The run's scene and what the dispatcher is told about it (`FloorPlan`, `DispatchConfig`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fctwin.controller.floorplan import DispatchConfig, DriveUnitInfo, FloorPlan, StationInfo
from fctwin.robots.station import accepts_withdraw
from fctwin.sim.run.options import RunOptions
from fctwin.sim.scene import Scene, load_scene, scene_from_dict
from fctwin.sim.scene.catalog import resolve_scene
from fctwin.sim.scene.loader import with_overrides
from fctwin.sim.seeds import child_seed


def floorplan_from_scene(scene: Scene, *, planner: str | None = None) -> tuple[FloorPlan, DispatchConfig]:
    plan = FloorPlan(
        grid=np.asarray(scene.grid),
        cell_size_m=scene.cell_size_m,
        step_s=scene.step_s,
        stations=tuple(
            StationInfo(
                station_id=s.station_id, kind=s.kind, cell=s.cell, accepts_withdraw=accepts_withdraw(s.unit)
            )
            for s in scene.stations
        ),
        drive_units=tuple(
            DriveUnitInfo(
                unit_id=u.unit_id, payload_kg=u.config.payload_kg, low_battery_frac=u.config.low_battery_frac
            )
            for u in scene.units
        ),
        charge_cells=scene.charge_cells,
        pod_cells=np.asarray(scene.pods.home_cells),
        slot_sku=np.asarray(scene.pods.slot_sku),
        slot_units=np.asarray(scene.pods.slot_units),
        pod_capacity_units=scene.pods.capacity_units,
        pod_empty_mass_kg=scene.pods.empty_mass_kg,
        pod_max_gross_mass_kg=scene.pods.max_gross_mass_kg,
        sku_mass_kg=np.asarray(scene.skus.mass_kg),
        sku_demand_prob=np.asarray(scene.skus.demand_prob),
    )
    d = scene.spec.dispatch
    queue_cells = max(g.queue_cells for g in scene.spec.stations)
    config = DispatchConfig(
        planner=planner or d.planner,
        order_assignment=d.order_assignment,
        pod_selection=d.pod_selection,
        unit_allocation=d.unit_allocation,
        pod_storage=d.pod_storage,
        stow_assignment=d.stow_assignment,
        charging=d.charging,
        parking=d.parking,
        replenishment=d.replenishment,
        units_per_carton=scene.spec.inbound.units_per_carton,
        params=d.params,
        max_lines_per_station=d.max_lines_per_station,
        opportunity_charge_frac=d.opportunity_charge_frac,
        closed_queue_hold_s=60.0 * d.closed_queue_hold_min,
        queue_cells=queue_cells,
        seed=child_seed(scene.seed, "dispatcher"),
    )
    return plan, config


def prepare_scene(scene_ref: str | Path | Scene | None, opts: RunOptions) -> tuple[Path, Scene]:
    """The run's scene: a path, a shipped scene's name or a loaded `Scene`, with the run's overrides.

    Raises `SceneError` (bad file, bad override) or `FileNotFoundError` (no such file or name).
    """
    if isinstance(scene_ref, Scene):
        scene = scene_ref
        if opts.seed is not None or opts.hours is not None or opts.overrides:
            raw = with_overrides(
                scene.raw, scene.source, seed=opts.seed, run_hours=opts.hours, overrides=opts.overrides
            )
            text = scene.text
            scene = scene_from_dict(raw, source=scene.source, base_dir=Path(scene.base_dir))
            object.__setattr__(scene, "text", text)
        return Path(scene.source), scene
    path = resolve_scene(scene_ref)
    return path, load_scene(path, seed=opts.seed, run_hours=opts.hours, overrides=opts.overrides)
