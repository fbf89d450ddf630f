"""Building the simulated units of a scene: Titan drive units' parameters and station units by type."""

from __future__ import annotations

from fctwin.robots import registered_types
from fctwin.robots.human import HumanStation
from fctwin.robots.station import StationUnit
from fctwin.robots.titan import TitanParams


def titan_params(group, cell_size_m: float) -> TitanParams:
    return TitanParams(
        max_speed_mps=group.max_speed_mps,
        accel_mps2=group.accel_mps2,
        turn_90_s=group.turn_90_s,
        payload_kg=group.payload_kg,
        lift_s=group.lift_s,
        set_down_s=group.set_down_s,
        battery_wh=group.battery_wh,
        power_moving_w=group.power_moving_w,
        power_idle_w=group.power_idle_w,
        charge_power_w=group.charge_power_w,
        low_battery_frac=group.low_battery_frac,
        initial_battery_frac=group.initial_battery_frac,
        cell_size_m=cell_size_m,
    )


def make_station_unit(
    station,
    floor,
    *,
    fidelity: str = "fast",
    skus=None,
    client_id: int | None = None,
    origin_world=None,
    storage_fill_frac: float | None = None,
) -> StationUnit:
    """Build the station unit of a scene station (human by default).

    ``fidelity`` is the run's station fidelity; a station's own ``fidelity`` key overrides it.
    ``skus`` (the scene's `SkuTable`) gives arms the item sizes and masses; ``client_id`` and
    ``origin_world`` put a physics cell's bodies into the world's PyBullet client at that point.
    ``storage_fill_frac`` (the scene's ``pods.initial_fill_frac``): how full a Sequoia stow port's
    tote rack is when the run starts, as the scene declares its storage.
    """
    group = station.config
    types = registered_types()
    if station.unit == "human" or station.unit not in types:
        return HumanStation(
            unit_id=station.station_id,
            floor=floor,
            cell=station.cell,
            kind=station.kind,
            per_pod_s=group.per_pod_s.model_dump(),
            per_unit_s=group.per_unit_s.model_dump(),
        )
    extra = {"per_pod_s": group.per_pod_s.model_dump(), "success_rate": group.success_rate}
    if station.unit == "vulcan":
        extra["rows_for_people"] = group.rows_for_people
    if station.unit == "sequoia" and storage_fill_frac is not None:
        extra["rack_fill_frac"] = float(storage_fill_frac)
    if station.unit == "bluejay" and group.arms is not None:
        extra["arms"] = group.arms
    if skus is not None:
        extra["sku_sizes_m"], extra["sku_mass_kg"] = skus.size_m, skus.mass_kg
    if client_id is not None:
        extra["client_id"], extra["origin_world"] = client_id, tuple(origin_world or (0.0, 0.0, 0.0))
    return types[station.unit](
        unit_id=station.station_id,
        floor=floor,
        cell=station.cell,
        kind=station.kind,
        fidelity=group.fidelity or fidelity,
        **extra,
    )
