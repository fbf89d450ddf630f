"""Coupling with the FC run: network arrivals at one FC's dock become trailers with cartons per SKU.

The FC run asks for a date window; the network is simulated from its own scene and seed and the arrivals at
the
coupled FC (``[coupling] fc`` in the scene, else the first FC) inside the window are cut into trailers. In
the other
direction, the FC's measured receive/stow capacity enters the network as ``fcs[].dock_capacity_units_per_day``
(``fctwin inbound ... --fc-capacity-units-per-day N`` or :func:`with_fc_capacity`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .network import InboundModel, simulate
from .scene import DisruptionSpec, InboundScene, load_scene, with_changes

__all__ = [
    "DockArrival",
    "ReleasedBacklog",
    "strike_release",
    "PromotionWindow",
    "dock_arrivals",
    "promotion_windows",
    "with_fc_capacity",
    "TRAILER_SPACING_S",
]

TRAILER_SPACING_S = 900.0  # trailers of one shipment reach the yard 15 min apart (one drayage convoy)


@dataclass(frozen=True)
class DockArrival:
    t_s: float  # seconds since the window start
    trailer_id: str
    sku: int  # index into the FC's SKU catalogue, 0..n_fc_skus-1
    cartons: int
    units_per_carton: int


@dataclass(frozen=True)
class PromotionWindow:
    """One SKU on promotion in the network's demand model, in FC run time."""

    sku: int  # index into the FC's SKU catalogue (network SKU % n_fc_skus, as for dock arrivals)
    start_h: float  # hours since the window start (may be negative: began before it)
    hours: float
    multiplier: float  # the network scene's demand.promo_lift


def with_fc_capacity(scene: InboundScene, units_per_day: float, fc_id: str | None = None) -> InboundScene:
    """Scene copy with the dock capacity of one FC (or all) set from FC-run measurements (units/day)."""
    changes = {}
    fcs = [f.model_dump(by_alias=True) for f in scene.fcs]
    for f in fcs:
        if fc_id is None or f["id"] == fc_id:
            f["dock_capacity_units_per_day"] = float(units_per_day)
    changes["fcs"] = fcs
    return with_changes(scene, changes, source="fc capacity override")


def _cartons(units: int, per_carton: int) -> list[tuple[int, int]]:
    """(cartons, units_per_carton) rows carrying exactly ``units``: full cartons plus one partial carton."""
    full, rest = divmod(units, per_carton)
    rows = [(full, per_carton)] if full else []
    if rest:
        rows.append((1, rest))
    return rows


def dock_arrivals(
    scene_path: str | Path, *, start_day: int, days: float, seed: int, n_fc_skus: int
) -> list[DockArrival]:
    """Trailers arriving at the coupled FC's dock in ``[start_day, start_day + days)`` (KPI days of the
    scene).

    Network SKU ``s`` maps to FC SKU ``s % n_fc_skus``. Each shipment is packed into trailers of
    ``catalogue.cartons_per_trailer`` cartons, SKU by SKU; trailer k of a shipment arrives ``k * 15 min``
    after the
    shipment reached the dock. Sorted by ``t_s``, then trailer, then SKU. Deterministic for a given scene
    and seed.
    """
    if n_fc_skus < 1:
        raise ValueError("n_fc_skus must be >= 1")
    scene = load_scene(scene_path)
    need = int(math.ceil(start_day + days)) + 1
    if need > scene.days:
        scene = with_changes(scene, {"days": need}, source=str(scene_path))
    fc_id = scene.coupling.fc if scene.coupling else scene.fcs[0].id
    region = [r.id for r in scene.regions].index(next(f.region for f in scene.fcs if f.id == fc_id))
    res = simulate(scene, seed=seed, history_skus=0)
    t0 = scene.warmup_days + start_day
    per_carton = scene.catalogue.units_per_carton
    cap = scene.catalogue.cartons_per_trailer
    out: list[DockArrival] = []
    for t_d, sid, r, qty in res.dock_arrivals:
        if r != region or not (t0 <= t_d < t0 + days):
            continue
        trailer, load = 0, 0
        for sku in qty.nonzero()[0]:
            for cartons, upc in _cartons(int(qty[sku]), per_carton):
                left = cartons
                while left:
                    if load == cap:
                        trailer, load = trailer + 1, 0
                    n = min(left, cap - load)
                    t_s = (t_d - t0) * 86400.0 + trailer * TRAILER_SPACING_S
                    out.append(DockArrival(t_s, f"S{sid:06d}-T{trailer:03d}", int(sku) % n_fc_skus, n, upc))
                    load += n
                    left -= n
    out.sort(key=lambda a: (a.t_s, a.trailer_id, a.sku))
    return out


def promotion_windows(
    scene_path: str | Path, *, start_day: int, days: float, seed: int, n_fc_skus: int
) -> list[PromotionWindow]:
    """The network's promotions that overlap ``[start_day, start_day + days)`` (KPI days of the
    scene), for the coupled FC's order stream.

    The same scene adjustment, seed and demand stream as `dock_arrivals` (replication 0 of
    ``simulate``), so these are exactly the promotions whose demand the network replenishes: the
    windows are drawn up front by the network's `DemandModel`, nothing is simulated. Sorted by
    start, then SKU. Empty when the scene has no promotions (``promo_lift`` 1 or none per year).
    """
    import numpy as np

    from .demand import DemandModel
    from .network import _STREAM_DEMAND

    if n_fc_skus < 1:
        raise ValueError("n_fc_skus must be >= 1")
    scene = load_scene(scene_path)
    need = int(math.ceil(start_day + days)) + 1
    if need > scene.days:
        scene = with_changes(scene, {"days": need}, source=str(scene_path))
    lift = float(scene.demand.promo_lift)
    if lift <= 1.0:
        return []
    ss = np.random.SeedSequence(seed, spawn_key=(0,))  # replication 0, as `simulate` and `dock_arrivals`
    dm = DemandModel(
        scene, np.random.default_rng(np.random.SeedSequence(ss.entropy, spawn_key=(0, _STREAM_DEMAND)))
    )
    t0 = scene.warmup_days + start_day
    length = scene.demand.promo_length_d
    out = []
    for s, a in zip(dm._promo_sku.tolist(), dm._promo_start.tolist(), strict=True):
        if a + length <= t0 or a >= t0 + days:
            continue
        out.append(PromotionWindow(int(s) % n_fc_skus, (a - t0) * 24.0, length * 24.0, lift))
    out.sort(key=lambda w: (w.start_h, w.sku))
    return out


def fc_capacity_from_run(db_path: str | Path, *, hours_per_day: float = 20.0) -> float:
    """Receive/stow capacity (units/day) measured by an FC run (`fctwin run`'s run.sqlite).

    The run's stow rate is limited by what arrived, not only by the stations, so the measured rate is
    scaled by the stow stations' busy share: capacity/h = stowed/h / utilisation. ``hours_per_day``
    is the dock's operating day (Vulcan-style 20 h by default). Raises ValueError naming the problem.
    """
    import json
    import sqlite3

    path = Path(db_path)
    if path.is_dir():
        path = path / "run.sqlite"
    if not path.exists():
        raise ValueError(f"{path}: no FC run database there")
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        summary = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM summary")}
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{path}: not an FC run database ({exc})") from None
    finally:
        con.close()
    stowed_per_h = float(summary.get("units_stowed_per_h") or 0.0)
    util = float(summary.get("stow_station_utilisation") or 0.0)
    if stowed_per_h <= 0 or util <= 0:
        raise ValueError(f"{path}: the run stowed nothing, so it measures no stow capacity")
    return stowed_per_h / util * hours_per_day


@dataclass(frozen=True)
class ReleasedBacklog:
    """The goods a port strike held, bound for the coupled FC's region, released when it ends.

    ``units_by_sku`` maps FC SKU (network SKU % n_fc_skus) to units; days are KPI days of the
    network scene (days after its warm-up)."""

    port: str
    strike_start_day: float
    strike_days: float
    release_day: float  # the first held shipment reaches its destination node
    shipments: tuple[int, ...]
    mean_delay_d: float  # days the strike added to the held shipments, on average
    units_by_sku: dict[int, int]

    @property
    def units(self) -> int:
        return int(sum(self.units_by_sku.values()))


class _Recording(InboundModel):
    """The network model, keeping each international shipment and the region it serves (reads
    only: the same draws and the same results as `InboundModel`)."""

    def __init__(self, *a, **kw):
        self.kept: dict[int, tuple] = {}  # shipment id -> (shipment, lane, region)
        super().__init__(*a, **kw)

    def _intl_process(self, sh, ln, region, u, from_seller):
        self.kept[sh.id] = (sh, ln, region)
        return super()._intl_process(sh, ln, region, u, from_seller)


def _run_recording(scene: InboundScene, seed: int, disruptions: list) -> _Recording:
    import numpy as np

    model = _Recording(
        scene, seed_seq=np.random.SeedSequence(seed, spawn_key=(0,)), disruptions=disruptions, history_skus=0
    )
    model.run(None)
    return model


def strike_release(
    scene_path: str | Path,
    *,
    port: str,
    strike_days: float,
    seed: int,
    n_fc_skus: int,
    start_day: float | None = None,
) -> ReleasedBacklog:
    """Strike ``port`` for ``strike_days`` in the inbound network and return what it held for the
    coupled FC's region: the shipments whose arrival the strike delayed (against the same network,
    seed and draws without it: common random numbers), by SKU, and when the first of them reaches
    its node after the strike. ``start_day`` (KPI day) None: the strike begins one day before the
    first vessel bound for the region calls at the port after the warm-up, so it holds at least that
    vessel. Deterministic per scene and seed. Raises ValueError naming the problem (unknown port,
    a port no lane to the region calls at, a strike that held nothing)."""
    if n_fc_skus < 1:
        raise ValueError("n_fc_skus must be >= 1")
    scene = load_scene(scene_path)
    ports = [p.id for p in scene.ports if p.side == "destination" and p.kind == "sea"]
    if port not in ports:
        raise ValueError(f"no destination sea port {port!r} in {scene_path} (they are: {', '.join(ports)})")
    fc_id = scene.coupling.fc if scene.coupling else scene.fcs[0].id
    region = [r.id for r in scene.regions].index(next(f.region for f in scene.fcs if f.id == fc_id))
    W = scene.warmup_days

    def bound_here(sh, ln, reg) -> bool:
        return reg == region and ln.dest_port == port

    base = _run_recording(scene, seed, [])
    calls = sorted(
        t
        for sh, ln, reg in base.kept.values()
        if bound_here(sh, ln, reg)
        for kind, t in sh.events
        if kind == "port" and t >= W
    )
    if start_day is None:
        if not calls:
            raise ValueError(
                f"no vessel bound for region {scene.regions[region].id} calls at {port} after the warm-up"
            )
        start_day = calls[0] - 1.0 - W
    if start_day + strike_days + 60 > scene.days:  # room for the backlog to clear
        scene = with_changes(
            scene, {"days": int(math.ceil(start_day + strike_days + 60))}, source=str(scene_path)
        )
        base = _run_recording(scene, seed, [])
    strike = DisruptionSpec(
        name=f"strike {port}",
        kind="strike",
        start_day=float(start_day),
        duration_d=float(strike_days),
        ports=(port,),
    )
    hit = _run_recording(scene, seed, [strike])
    held, delays, units = [], [], {}
    for sid, (sh, ln, reg) in sorted(hit.kept.items()):
        if not bound_here(sh, ln, reg) or sid not in base.kept:
            continue
        b = base.kept[sid][0]
        if not (sh.arrive_d == sh.arrive_d and b.arrive_d == b.arrive_d):  # nan: not there by the end
            continue
        if sh.arrive_d > b.arrive_d + 1e-6 and sh.units == b.units:
            held.append(sh)
            delays.append(sh.arrive_d - b.arrive_d)
            net = sh.qty - sh.lost if sh.lost is not None else sh.qty
            for sku in net.nonzero()[0]:
                k = int(sku) % n_fc_skus
                units[k] = units.get(k, 0) + int(net[sku])
    if not held:
        raise ValueError(
            f"a {strike_days:g}-day strike at {port} from KPI day {start_day:g} delayed no shipment "
            f"bound for region {scene.regions[region].id} (no vessel called during it)"
        )
    return ReleasedBacklog(
        port=port,
        strike_start_day=float(start_day),
        strike_days=float(strike_days),
        release_day=float(min(sh.arrive_d for sh in held) - W),
        shipments=tuple(sh.id for sh in held),
        mean_delay_d=float(sum(delays) / len(delays)),
        units_by_sku=dict(sorted(units.items())),
    )
