"""The scene file schema (TOML), as strict pydantic models.

Every model forbids unknown keys and is frozen; numbers carry their unit in the key name. The
loader (`fctwin.sim.scene.loader`) turns a validated `SceneFile` plus the layout into a `Scene`.
See docs/scenes.md for a commented example.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SUPPORTED_SCHEMA_VERSIONS = (1,)

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


# ---------------------------------------------------------------- distributions (seconds or counts)


class Constant(Strict):
    dist: Literal["constant"]
    value: NonNegFloat


class Exponential(Strict):
    dist: Literal["exponential"]
    mean: PosFloat


class Uniform(Strict):
    dist: Literal["uniform"]
    low: NonNegFloat
    high: NonNegFloat

    @model_validator(mode="after")
    def _ordered(self):
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self


class LogNormal(Strict):
    """Log-normal given by its mean and coefficient of variation (what people measure)."""

    dist: Literal["lognormal"]
    mean: PosFloat
    cv: NonNegFloat


class Gamma(Strict):
    dist: Literal["gamma"]
    mean: PosFloat
    cv: PosFloat


class Geometric(Strict):
    """Counts 1, 2, 3, ... with the given mean (>= 1), truncated at ``max``."""

    dist: Literal["geometric"]
    mean: Annotated[float, Field(ge=1)]
    max: PosInt = 1000


class Empirical(Strict):
    """Samples drawn uniformly from measured values (e.g. a calibrated cycle-time table)."""

    dist: Literal["empirical"]
    values: Annotated[list[NonNegFloat], Field(min_length=1)]


Distribution = Annotated[
    Constant | Exponential | Uniform | LogNormal | Gamma | Geometric | Empirical, Field(discriminator="dist")
]


# ---------------------------------------------------------------- layout


class Generator(Strict):
    """RAWSim-O-style storage blocks (see sim.scene.layout.generate_blocks)."""

    blocks_x: PosInt
    blocks_y: PosInt
    block_cols: PosInt
    block_rows: PosInt
    aisle_cells: PosInt = 1
    hallway_cells: PosInt = 2
    docks: PosInt = 1
    charging: NonNegInt = 4


class MapRef(Strict):
    """An ASCII map: a file relative to the scene file, or rows inline."""

    file: str | None = None
    rows: list[str] | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.file is None) == (self.rows is None):
            raise ValueError("give exactly one of 'file' or 'rows'")
        return self


class Layout(Strict):
    cell_size_m: PosFloat = 1.0
    generator: Generator | None = None
    map: MapRef | None = None

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.generator is None) == (self.map is None):
            raise ValueError("give exactly one of [layout.generator] or [layout.map]")
        return self


# ---------------------------------------------------------------- fleet, pods, stations


class DriveUnitGroup(Strict):
    """A group of identical drive units (defaults: RAWSim-O's, Titan payload from FACTS.md)."""

    type: Literal["titan"] = "titan"
    count: PosInt
    id_prefix: str = "T"
    max_speed_mps: PosFloat = 1.5
    accel_mps2: PosFloat = 0.5
    turn_90_s: PosFloat = 0.625  # a full 360 deg turn in 2.5 s
    payload_kg: PosFloat = 1134.0
    lift_s: NonNegFloat = 3.0
    set_down_s: NonNegFloat = 3.0
    battery_wh: PosFloat = 1500.0
    power_moving_w: NonNegFloat = 300.0
    power_idle_w: NonNegFloat = 40.0
    charge_power_w: PosFloat = 3000.0
    low_battery_frac: Frac = 0.2
    external: list[str] = []  # unit ids served by hardware over the network (hardware-in-the-loop)


class Pods(Strict):
    count: PosInt
    empty_mass_kg: PosFloat = 120.0
    max_gross_mass_kg: PosFloat = 450.0
    bins: PosInt = 40
    capacity_units: PosInt = 400
    skus_per_pod: PosInt = 8
    initial_fill_frac: Frac = 0.6
    # Initial slotting (docs/slotting.md): "random" (the default: SKUs mixed at random, pods on random
    # cells), "class_based" (pods on cells of their ABC velocity class), "turnover" (fastest pods on
    # the nearest cells), "affinity" (co-ordered SKUs share pods), "combined" (affinity + turnover).
    placement: Literal["random", "class_based", "turnover", "affinity", "combined"] = "random"
    # orders sampled from the scene's demand model as the history affinity placement learns from
    placement_history_orders: PosInt = 20000


class StationGroup(Strict):
    """Stations of one kind and unit type; cells come from the layout in order, or are given."""

    kind: Literal["pick", "stow"]
    unit: Literal["human", "vulcan", "bluejay", "sequoia"] = "human"
    count: PosInt = 1
    id_prefix: str | None = None
    cells: list[tuple[int, int]] | None = None
    per_pod_s: Distribution = Constant(dist="constant", value=2.0)
    per_unit_s: Distribution = LogNormal(dist="lognormal", mean=10.0, cv=0.3)
    # Arms (vulcan, bluejay, sequoia): share of units that succeed (failures go to a person); None
    # uses the calibrated rate of robots/data/station_models.json. Not valid for human stations.
    success_rate: Frac | None = None
    queue_cells: NonNegInt = 3
    rows_for_people: NonNegInt = 0  # vulcan: the arm prefers the top rows when people work these lower ones
    arms: Annotated[int, Field(ge=1, le=4)] | None = None  # bluejay only: arms in the cell (default 3)
    # Arms: "fast" (calibrated cycle-time model) or "physics" (PyBullet cell); None follows the run
    # (`fctwin run --physics stations` turns every arm station to physics).
    fidelity: Literal["fast", "physics"] | None = None

    @model_validator(mode="after")
    def _cells_match(self):
        if self.cells is not None and len(self.cells) != self.count:
            raise ValueError(f"'cells' lists {len(self.cells)} cells but count is {self.count}")
        return self


class Docks(Strict):
    cells: list[tuple[int, int]] | None = None
    transfer_to_stow_s: NonNegFloat = 120.0  # dock to stow-station hand-off (conveyor / cart)


# ---------------------------------------------------------------- SKUs, orders, inbound


class Zipf(Strict):
    kind: Literal["zipf"]
    exponent: PosFloat = 1.0


class AbcClass(Strict):
    share_of_skus: Frac
    share_of_demand: Frac


class Abc(Strict):
    kind: Literal["abc"]
    classes: Annotated[list[AbcClass], Field(min_length=1)]

    @model_validator(mode="after")
    def _shares(self):
        for name in ("share_of_skus", "share_of_demand"):
            total = sum(getattr(c, name) for c in self.classes)
            if abs(total - 1.0) > 1e-6:
                raise ValueError(f"{name} of the classes sums to {total:g}, not 1")
        return self


Popularity = Annotated[Zipf | Abc, Field(discriminator="kind")]


class Families(Strict):
    """SKU families: a seeded random partition of the SKUs into groups of ``size`` (e.g. a brand's
    range, the sizes of one shoe). Baskets (`Basket`) draw further order lines from them."""

    size: Annotated[int, Field(ge=2)] = 10


class Skus(Strict):
    count: PosInt
    popularity: Popularity = Zipf(kind="zipf", exponent=1.0)
    families: Families | None = None
    size_min_m: tuple[PosFloat, PosFloat, PosFloat] = (0.05, 0.05, 0.02)
    size_max_m: tuple[PosFloat, PosFloat, PosFloat] = (0.40, 0.30, 0.30)
    mass_min_kg: PosFloat = 0.05
    mass_max_kg: PosFloat = 4.0


class Basket(Strict):
    """Orders with structure: each line after the first comes, with probability ``same_family``,
    from the family of the order's first line (by popularity within the family), else from the
    whole catalogue. Needs ``skus.families``."""

    same_family: Frac = 0.7


class Drift(Strict):
    """Velocity that drifts: every ``interval_h`` simulated hours, ``swap_frac`` of the SKUs trade
    popularity with another SKU drawn at random (new bestsellers, fading ones)."""

    interval_h: PosFloat = 1.0
    swap_frac: Frac = 0.05


class Promotion(Strict):
    """A promotion (or a season): one SKU family's demand times ``multiplier`` during
    [``start_h``, ``start_h + hours``) of simulated time. Needs ``skus.families``."""

    family: NonNegInt
    start_h: NonNegFloat = 0.0
    hours: PosFloat = 1.0
    multiplier: PosFloat = 5.0


class Orders(Strict):
    rate_per_h: PosFloat
    hourly_profile: Annotated[list[NonNegFloat], Field(min_length=24, max_length=24)] | None = None
    start_hour: Annotated[int, Field(ge=0, le=23)] = 8
    lines_per_order: Distribution = Geometric(dist="geometric", mean=1.6, max=8)
    units_per_line: Distribution = Geometric(dist="geometric", mean=1.2, max=5)
    # Demand structure for slotting (docs/slotting.md); none of it set gives today's draws exactly.
    basket: Basket | None = None
    drift: Drift | None = None
    promotions: list[Promotion] = []


class Inbound(Strict):
    cartons_per_h: NonNegFloat = 0.0
    units_per_carton: PosInt = 12
    # The supplier's lead time for the dispatcher's purchase orders (dispatch.replenishment), in
    # hours from order to the dock: a domestic DC or regional storage answers within a shift.
    lead_time_h: Distribution = Constant(dist="constant", value=4.0)
    scenario: str | None = None  # an inbound-network scene whose FC dock arrivals feed this run
    start_day: NonNegInt = 0


class Dispatch(Strict):
    """The dispatcher's policy per decision family (docs/policies.md) and its few numbers.

    Policy names are checked against the registry (built-ins and `fctwin.policies` entry points)
    by the loader, which lists the known names. ``pod_return`` is the older name of
    ``pod_storage`` and still accepted (giving both with different values is an error).
    """

    planner: str = "pibt"
    order_assignment: str = "least_loaded"
    pod_selection: str = "most_lines"
    unit_allocation: str = "nearest"
    pod_storage: str = "nearest_free"
    stow_assignment: str = "shortest_queue"
    charging: str = "opportunity"
    parking: str = "under_pod"
    replenishment: str = "none"
    # [dispatch.params.<family>]: keyword parameters for that family's policy
    params: dict[str, dict[str, Any]] = {}
    max_lines_per_station: PosInt = 12
    # idle units below this battery fraction charge when a pad is free (0 = only at low battery)
    opportunity_charge_frac: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5

    @model_validator(mode="before")
    @classmethod
    def _old_pod_return_name(cls, data):
        if isinstance(data, dict) and "pod_return" in data:
            data = dict(data)
            old = data.pop("pod_return")
            if "pod_storage" in data and data["pod_storage"] != old:
                raise ValueError("pod_return is the old name of pod_storage: give one of them")
            data["pod_storage"] = old
        return data


class SceneFile(Strict):
    schema_version: int
    name: str
    description: str = ""
    seed: NonNegInt = 0
    run_hours: PosFloat = 8.0
    layout: Layout
    fleet: Annotated[list[DriveUnitGroup], Field(min_length=1)]
    pods: Pods
    stations: Annotated[list[StationGroup], Field(min_length=1)]
    docks: Docks = Docks()
    skus: Skus
    orders: Orders
    inbound: Inbound = Inbound()
    dispatch: Dispatch = Dispatch()

    @model_validator(mode="after")
    def _families_for_baskets(self):
        if self.skus.families is None and (self.orders.basket is not None or self.orders.promotions):
            raise ValueError("orders.basket and orders.promotions need skus.families")
        if self.skus.families is not None:
            n_fam = -(-self.skus.count // self.skus.families.size)
            for k, promo in enumerate(self.orders.promotions):
                if promo.family >= n_fam:
                    raise ValueError(f"orders.promotions[{k}].family: {promo.family} >= {n_fam} families")
        return self
