"""Inbound scene schema (TOML, ``schema_version = 1``): the cross-border network, demand, policy and
disruptions.

Validation happens once, at load: every error names the file, the field path and the problem. Models are
frozen and
reject unknown keys, so a typo in a scene is an error, not a silently ignored field. Nothing downstream
re-checks
what is validated here.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .dists import Const, Dist
from .xb_params import CrossBorderCfg

__all__ = ["SceneError", "InboundScene", "load_scene", "scene_from_dict", "with_changes", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

Mode = Literal["ocean_standard", "ocean_express", "air"]
Flow = Literal["direct", "awd", "hub"]
ForecastName = Literal["seasonal_naive", "holt_winters", "croston", "sba", "tsb", "auto", "oracle"]
DisruptionKind = Literal[
    "port_closure",
    "capacity_cut",
    "strike",
    "weather",
    "anchorage_congestion",
    "customs_surge",
    "route_suspension",
    "diversion",
]
_ZERO = Const(dist="const", value=0.0)


class SceneError(ValueError):
    """A scene failed validation; the message names file, field path and problem (one per line)."""


# SKU-days the model holds in its daily arrays (n_skus x (warmup_days + days)): the shipped scenes
# use 136,500; a typo must not allocate gigabytes before it is refused.
MAX_SKU_DAYS = 20_000_000


class _Frozen(BaseModel):
    # No inf/NaN anywhere (TOML has both): `share = inf` or an infinite tariff would run and print nonsense.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)


class Catalogue(_Frozen):
    n_skus: int = Field(ge=1, le=200_000)
    median_daily_units: float = Field(
        gt=0, le=1_000_000, description="median over SKUs of mean demand, all regions+channels"
    )
    sigma_daily_units: float = Field(ge=0, le=3, description="lognormal spread of SKU demand rates")
    intermittent_share: float = Field(default=0.0, ge=0, le=1)
    intermittent_daily_units: float = Field(default=0.2, gt=0, le=1_000_000)
    median_unit_value_usd: float = Field(gt=0, le=1_000_000)
    sigma_unit_value: float = Field(default=0.5, ge=0, le=3)
    margin_share: float = Field(gt=0, le=1, description="contribution margin as a share of unit value")
    units_per_carton: int = Field(ge=1, le=100_000)
    cartons_per_trailer: int = Field(
        default=1000, ge=1, le=1_000_000, description="53 ft trailer, floor-loaded"
    )


class Demand(_Frozen):
    weekly_profile: tuple[float, ...] = Field(default=(1, 1, 1, 1, 1, 1, 1), description="Mon..Sun weights")
    yearly_amplitude: float = Field(default=0.0, ge=0, lt=1)
    peak_day_of_year: int = Field(default=330, ge=0, le=365)
    trend_per_year: float = Field(default=0.0, gt=-0.9, lt=5)
    dispersion_k: float | None = Field(default=None, gt=0, description="gamma-Poisson shape; none = Poisson")
    regional_sigma: float = Field(default=0.0, ge=0, le=3, description="spread of SKU mix across regions")
    promotions_per_year: float = Field(default=0.0, ge=0, le=52)
    promo_length_d: int = Field(default=5, ge=1, le=60)
    promo_lift: float = Field(default=1.0, ge=1, le=20)

    @model_validator(mode="after")
    def _week(self):
        if len(self.weekly_profile) != 7 or min(self.weekly_profile) < 0 or sum(self.weekly_profile) <= 0:
            raise ValueError("weekly_profile needs 7 non-negative weights (Mon..Sun) with a positive sum")
        return self


class Channel(_Frozen):
    id: str
    kind: Literal["own_marketplace", "multi_channel"]
    share: float = Field(gt=0)


class Region(_Frozen):
    id: str
    demand_share: float = Field(gt=0)
    primary_lane: str
    expedite_lane: str | None = None
    alternate_lanes: tuple[str, ...] = ()


class Origin(_Frozen):
    seller_to_hub_d: Dist
    hub_handling_d: Dist = Field(description="hub handling, export clearance and cut-off before sailing")
    handling_usd_per_unit: float = Field(ge=0)
    hub_storage_usd_per_unit_day: float = Field(ge=0, description="source-hub (GWD-style) storage tariff")
    seller_review_d: int = Field(
        ge=1, le=365, description="sellers ship production lots every this many days"
    )
    hub_transfer_usd_per_unit: float = Field(default=0.0, ge=0, description="seller to hub pickup")


class Port(_Frozen):
    id: str
    kind: Literal["sea", "air", "canal"]
    side: Literal["origin", "destination", "transit"]
    tags: tuple[str, ...] = ()
    utilization: float = Field(
        default=0.8, gt=0, lt=1, description="background load / capacity, normal times"
    )
    anchorage_d: Dist = _ZERO
    terminal_dwell_d: Dist = _ZERO


class Lane(_Frozen):
    id: str
    mode: Mode
    provider: str
    origin_port: str
    dest_port: str
    departure_every_d: float = Field(gt=0, le=60)
    first_departure_d: float = Field(default=0.0, ge=0)
    handling_d: Dist | None = Field(
        default=None, description="origin handling; default origin.hub_handling_d"
    )
    transit_d: Dist
    on_time_share: float = Field(default=1.0, ge=0, le=1)
    late_d: Dist = _ZERO
    chokepoint: str | None = None
    chokepoint_at: float = Field(default=0.5, gt=0, lt=1, description="fraction of the voyage")
    freight_usd_per_unit: float = Field(ge=0)
    damage_share: float = Field(default=0.0, ge=0, le=0.5)


class Inland(_Frozen):
    port: str
    region: str
    transit_d: Dist
    cost_usd_per_unit: float = Field(ge=0)


class Exam(_Frozen):
    name: str
    share: float = Field(gt=0)
    duration_d: Dist


class Customs(_Frozen):
    release_d: Dist
    exam_share: float = Field(ge=0, le=1)
    exams: tuple[Exam, ...] = ()
    duty_rate: float = Field(ge=0, le=5)


class RegionalStorage(_Frozen):
    id: str
    region: str
    storage_usd_per_unit_day: float = Field(ge=0)
    receive_d: Dist
    to_fc_d: Dist
    to_fc_usd_per_unit: float = Field(ge=0)


class FC(_Frozen):
    id: str
    region: str
    dock_capacity_units_per_day: float = Field(gt=0)
    receive_to_sellable_d: Dist
    storage_usd_per_unit_day: float = Field(ge=0)


class Network(_Frozen):
    flow: Flow = "awd"
    pool_channels: bool = True
    transfer_d: Dist = Field(default=Const(dist="const", value=5.0), description="region-to-region truck")
    transfer_usd_per_unit: float = Field(default=0.6, ge=0)


class PolicyCfg(_Frozen):
    name: str = "base_stock"
    forecast: ForecastName = "auto"
    service_z: float = Field(default=1.65, ge=0, le=5)
    review_d: int = Field(default=7, ge=1, le=365, description="review period of orders through the lanes")
    fc_review_d: int = Field(default=1, ge=1, le=30)
    fc_cover_d: float = Field(default=10.0, gt=0, description="(s,S): S - s in days of demand at the FC")
    expedite_cover_d: float = Field(default=10.0, ge=0, description="air when projected cover falls below")
    transfer_cover_d: float = Field(default=7.0, ge=0)
    donor_cover_d: float = Field(default=30.0, ge=0)
    reroute_min_gain_d: float = Field(default=3.0, ge=0)
    base_stock_units: int | None = Field(default=None, ge=0, description="fixed S for every SKU (analytics)")


class DisruptionSpec(_Frozen):
    name: str = ""
    kind: DisruptionKind
    # Days from the start of the KPI window; the scene's window is at most 3,650 days (`days`), so
    # a start beyond that (1e12) could never act: refused here, and `_cross_check` refuses one that
    # starts after this scene's own window ends.
    start_day: float = Field(ge=-1000, le=3650)
    duration_d: float = Field(gt=0, le=3650)
    intensity: float = Field(default=0.0, ge=0, le=1000)
    intensity_end: float | None = Field(
        default=None, ge=0, le=1000, description="linear ramp to this at the end"
    )
    ports: tuple[str, ...] = ()
    port_tags: tuple[str, ...] = ()
    lanes: tuple[str, ...] = ()
    chokepoint: str | None = None


class Regime(_Frozen):
    """Random lane regime: a daily Markov chain over normal / congested / closed, per lane."""

    lanes: tuple[str, ...]
    transition_per_day: tuple[tuple[float, float, float], ...] = Field(
        default=((0.995, 0.004, 0.001), (0.03, 0.965, 0.005), (0.15, 0.05, 0.80))
    )
    congested_delay_d: float = Field(default=6.0, ge=0)

    @model_validator(mode="after")
    def _stochastic(self):
        rows = self.transition_per_day
        if len(rows) != 3 or any(abs(sum(r) - 1) > 1e-6 or min(r) < 0 for r in rows):
            raise ValueError("transition_per_day must be 3 rows of 3 non-negative numbers summing to 1")
        return self


class Coupling(_Frozen):
    fc: str
    start_day: int = Field(default=0, ge=0)
    days: float = Field(default=1.0, gt=0)
    inbound_scenario: str = "inbound"


class InboundScene(_Frozen):
    schema_version: int
    name: str
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    days: int = Field(default=365, ge=1, le=3650)
    warmup_days: int = Field(default=56, ge=0, le=730)
    start_date: dt.date = dt.date(2025, 1, 1)
    disruption_start_day: int = Field(default=90, ge=0, le=3650)
    catalogue: Catalogue
    demand: Demand = Demand()
    channels: tuple[Channel, ...] = Field(min_length=1)
    regions: tuple[Region, ...] = Field(min_length=1)
    origin: Origin
    ports: tuple[Port, ...] = Field(min_length=2)
    lanes: tuple[Lane, ...] = Field(min_length=1)
    inland: tuple[Inland, ...] = ()
    customs: Customs
    regional_storage: tuple[RegionalStorage, ...] = ()
    fcs: tuple[FC, ...] = Field(min_length=1)
    network: Network = Network()
    policy: PolicyCfg = PolicyCfg()
    disruptions: tuple[DisruptionSpec, ...] = ()
    regime: Regime | None = None
    coupling: Coupling | None = None
    crossborder: CrossBorderCfg = CrossBorderCfg()


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _cross_check(scene: InboundScene) -> list[str]:
    """References between sections: ids must exist and be unique; every region needs its nodes."""
    errs: list[str] = []
    for section in ("channels", "regions", "ports", "lanes", "fcs", "regional_storage"):
        seen: set[str] = set()
        for i, item in enumerate(getattr(scene, section)):
            if item.id in seen:
                errs.append(f"{section}[{i}].id: duplicate id {item.id!r}")
            seen.add(item.id)
    ports = {p.id: p for p in scene.ports}
    lanes = {ln.id for ln in scene.lanes}
    regions = {r.id for r in scene.regions}
    for i, ln in enumerate(scene.lanes):
        for field in ("origin_port", "dest_port"):
            pid = getattr(ln, field)
            if pid not in ports:
                errs.append(f"lanes[{i}].{field}: unknown port {pid!r} (known: {', '.join(sorted(ports))})")
        if ln.origin_port in ports and ports[ln.origin_port].side != "origin":
            errs.append(
                f"lanes[{i}].origin_port: port {ln.origin_port!r} has side {ports[ln.origin_port].side!r}"
            )
        if ln.dest_port in ports and ports[ln.dest_port].side != "destination":
            errs.append(f"lanes[{i}].dest_port: port {ln.dest_port!r} has side {ports[ln.dest_port].side!r}")
    for i, r in enumerate(scene.regions):
        for field in ("primary_lane", "expedite_lane"):
            lid = getattr(r, field)
            if lid is not None and lid not in lanes:
                errs.append(f"regions[{i}].{field}: unknown lane {lid!r} (known: {', '.join(sorted(lanes))})")
        for j, lid in enumerate(r.alternate_lanes):
            if lid not in lanes:
                errs.append(f"regions[{i}].alternate_lanes[{j}]: unknown lane {lid!r}")
        for lid in (r.primary_lane, r.expedite_lane, *r.alternate_lanes):
            ln = next((x for x in scene.lanes if x.id == lid), None)
            if ln is not None and not any(x.port == ln.dest_port and x.region == r.id for x in scene.inland):
                errs.append(
                    f"regions[{i}]: lane {lid!r} lands at {ln.dest_port!r} but no [[inland]] leg links it "
                    f"to region {r.id!r}"
                )
        if sum(f.region == r.id for f in scene.fcs) != 1:
            errs.append(f"regions[{i}]: region {r.id!r} needs exactly one [[fcs]] entry")
        if scene.network.flow != "direct" and sum(s.region == r.id for s in scene.regional_storage) != 1:
            errs.append(
                f"regions[{i}]: flow {scene.network.flow!r} needs exactly one [[regional_storage]] for "
                f"region {r.id!r}"
            )
    for section in ("inland", "fcs", "regional_storage"):
        for i, item in enumerate(getattr(scene, section)):
            if item.region not in regions:
                errs.append(f"{section}[{i}].region: unknown region {item.region!r}")
    for i, leg in enumerate(scene.inland):
        if leg.port not in ports:
            errs.append(f"inland[{i}].port: unknown port {leg.port!r}")
    for i, d in enumerate(scene.disruptions):
        errs += disruption_target_errors(scene, d, f"disruptions[{i}]")
    # Shares are fractions of one whole: 0.75 + 0.65 would silently become 0.54 + 0.46.
    for section, field in (("channels", "share"), ("regions", "demand_share"), ("customs.exams", "share")):
        items = scene.customs.exams if section == "customs.exams" else getattr(scene, section)
        total = sum(getattr(x, field) for x in items)
        if items and abs(total - 1.0) > 1e-6:
            errs.append(f"{section}[*].{field}: the shares sum to {total:g}, not 1")
    sku_days = scene.catalogue.n_skus * (scene.warmup_days + scene.days)
    if sku_days > MAX_SKU_DAYS:
        errs.append(
            f"catalogue.n_skus: {scene.catalogue.n_skus:,} SKUs x {scene.warmup_days + scene.days} days is "
            f"{sku_days:,} SKU-days; at most {MAX_SKU_DAYS:,}"
        )
    if scene.regime is not None:
        for j, lid in enumerate(scene.regime.lanes):
            if lid not in lanes:
                errs.append(f"regime.lanes[{j}]: unknown lane {lid!r}")
    if scene.coupling is not None and scene.coupling.fc not in {f.id for f in scene.fcs}:
        errs.append(f"coupling.fc: unknown fc {scene.coupling.fc!r}")
    from .policies import POLICIES  # late import: policies import nothing from here at module level

    if scene.policy.name not in POLICIES:
        errs.append(f"policy.name: unknown policy {scene.policy.name!r} (known: {', '.join(POLICIES)})")
    return errs


def disruption_target_errors(
    scene: InboundScene, d: DisruptionSpec, where: str, *, any_tag: bool = False
) -> list[str]:
    """Problems with what a disruption points at (also used for templates chosen on the command line).

    ``any_tag``: the port tags are alternatives (templates): an error only when no port carries any.
    """
    errs = []
    port_ids = {p.id for p in scene.ports}
    tags = {t for p in scene.ports for t in p.tags}
    lane_ids = {ln.id for ln in scene.lanes}
    for j, pid in enumerate(d.ports):
        if pid not in port_ids:
            errs.append(f"{where}.ports[{j}]: unknown port {pid!r}")
    if any_tag and d.port_tags and not set(d.port_tags) & tags:
        errs.append(
            f"{where}.port_tags: no port in the scene carries any of {list(d.port_tags)}"
            f" (tags: {sorted(tags)})"
        )
    for j, tag in enumerate(() if any_tag else d.port_tags):
        if tag not in tags:
            errs.append(
                f"{where}.port_tags[{j}]: no port in the scene carries tag {tag!r} (tags: {sorted(tags)})"
            )
    for j, lid in enumerate(d.lanes):
        if lid not in lane_ids:
            errs.append(f"{where}.lanes[{j}]: unknown lane {lid!r}")
    port_kinds = {"port_closure", "capacity_cut", "strike", "weather", "anchorage_congestion"}
    if d.kind in port_kinds and not (d.ports or d.port_tags):
        errs.append(f"{where}: a {d.kind} needs ports or port_tags")
    if d.kind in {"route_suspension", "diversion"} and not (d.lanes or d.chokepoint):
        errs.append(f"{where}: a {d.kind} needs lanes or a chokepoint")
    if d.chokepoint is not None and not any(ln.chokepoint == d.chokepoint for ln in scene.lanes):
        errs.append(f"{where}.chokepoint: no lane passes chokepoint {d.chokepoint!r}")
    return errs


def disruption_window_error(scene: InboundScene, d: DisruptionSpec, where: str) -> str | None:
    """Why disruption ``d`` cannot act in this scene's run window (None if it can).

    The scene's [[disruptions]] are a library picked by name, so this is checked when one is picked
    (a shortened run may leave a library entry outside its window without being wrong).
    """
    if d.start_day >= scene.days:
        return (
            f"{where}: starts on day {d.start_day:g}, after the {scene.days}-day window ends:"
            " it could never act"
        )
    if d.start_day + d.duration_d <= -scene.warmup_days:
        end = d.start_day + d.duration_d
        return f"{where}: ends on day {end:g}, before the run (warm-up from day -{scene.warmup_days}) starts"
    return None


def _validate(data: dict[str, Any], source: str) -> InboundScene:
    version = data.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:  # true == 1 in Python, but not a version
        raise SceneError(
            f"{source}: schema_version: expected {SCHEMA_VERSION}, got {data.get('schema_version')!r}"
        )
    try:
        scene = InboundScene.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise SceneError("\n".join(lines)) from None
    errs = _cross_check(scene)
    if errs:
        raise SceneError("\n".join(f"{source}: {e}" for e in errs))
    return scene


def load_scene(path: str | Path) -> InboundScene:
    """Read and validate an inbound scene file; raises SceneError naming file, field path and problem."""
    from fctwin.sim.textfile import TextFileError, read_text_file

    path = Path(path)
    try:
        data = tomllib.loads(read_text_file(path))
    except FileNotFoundError:
        raise SceneError(f"{path}: file not found") from None
    except TextFileError as exc:
        raise SceneError(f"{path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(f"{path}: TOML syntax error: {exc}") from None
    except RecursionError:
        raise SceneError(f"{path}: TOML syntax error: nested too deeply") from None
    return scene_from_dict(data, str(path))


def scene_from_dict(data: dict[str, Any], source: str = "<scene>") -> InboundScene:
    """Validate an inbound scene given as parsed TOML; raises SceneError naming source, field and problem."""
    if "layout" in data:
        raise SceneError(
            f"{source}: an FC floor scene (it has [layout]), not an inbound network: use `fctwin run`"
        )
    return _validate(data, source)


def with_changes(scene: InboundScene, changes: dict[str, Any], source: str = "override") -> InboundScene:
    """A copy of ``scene`` with dotted-path changes (``{"network.flow": "hub"}``), validated again."""
    data = scene.model_dump(mode="python", by_alias=True)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    return _validate(data, source)
