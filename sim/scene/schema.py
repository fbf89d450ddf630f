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
    initial_battery_frac: Frac = 1.0  # charge at the start (a battery wave: the fleet starts low)
    external: list[str] = []  # unit ids served by hardware over the network (hardware-in-the-loop)


class Pods(Strict):
    count: PosInt
    empty_mass_kg: PosFloat = 120.0
    max_gross_mass_kg: PosFloat = 450.0
    bins: PosInt = 40
    capacity_units: PosInt = 400
    skus_per_pod: PosInt = 8
    initial_fill_frac: Frac = 0.6


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


class Skus(Strict):
    count: PosInt
    popularity: Popularity = Zipf(kind="zipf", exponent=1.0)
    size_min_m: tuple[PosFloat, PosFloat, PosFloat] = (0.05, 0.05, 0.02)
    size_max_m: tuple[PosFloat, PosFloat, PosFloat] = (0.40, 0.30, 0.30)
    mass_min_kg: PosFloat = 0.05
    mass_max_kg: PosFloat = 4.0


class Orders(Strict):
    rate_per_h: PosFloat
    hourly_profile: Annotated[list[NonNegFloat], Field(min_length=24, max_length=24)] | None = None
    start_hour: Annotated[int, Field(ge=0, le=23)] = 8
    lines_per_order: Distribution = Geometric(dist="geometric", mean=1.6, max=8)
    units_per_line: Distribution = Geometric(dist="geometric", mean=1.2, max=5)


class InboundWave(Strict):
    """A burst of cartons at the dock (a port backlog released): ``cartons`` spread evenly over
    ``minutes`` from ``at_h`` hours into the run, on top of the Poisson stream."""

    at_h: NonNegFloat
    minutes: PosFloat
    cartons: PosInt


class Inbound(Strict):
    cartons_per_h: NonNegFloat = 0.0
    units_per_carton: PosInt = 12
    # The supplier's lead time for the dispatcher's purchase orders (dispatch.replenishment), in
    # hours from order to the dock: a domestic DC or regional storage answers within a shift.
    lead_time_h: Distribution = Constant(dist="constant", value=4.0)
    scenario: str | None = None  # an inbound-network scene whose FC dock arrivals feed this run
    start_day: NonNegInt = 0
    waves: list[InboundWave] = []


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


class RateModelSpec(Strict):
    """Associates at one station: ``speed(n) = n / (1 + coupling * (n - 1))`` times one person's pace
    (diminishing returns; docs/eluna.md and `fctwin.controller.eluna.labour`)."""

    coupling: Annotated[float, Field(ge=0.0, le=1.0)] = 0.35


class BreakSpec(Strict):
    at_h: NonNegFloat
    minutes: PosFloat
    associates: PosInt  # people on break at once (from the most-staffed stations)


class OutageSpec(Strict):
    station: str
    at_h: NonNegFloat
    minutes: PosFloat


class Labour(Strict):
    """The shift plan for person-worked (human) stations: the manager's labour levers.

    ``staffing`` maps station ids to associates (0 = closed at the start); stations not named get
    one. ``pool`` is everyone on shift (default: the staffing total); the rest float, ready to be
    sent to a station. Delays: ``walk_s`` for a move (walk plus changeover), ``open_s`` more when
    the station was closed.
    """

    staffing: dict[str, NonNegInt] = {}
    pool: NonNegInt | None = None
    walk_s: NonNegFloat = 120.0
    open_s: NonNegFloat = 180.0
    max_per_station: Annotated[int, Field(ge=1, le=8)] = 3
    rate_model: RateModelSpec = RateModelSpec()
    breaks: list[BreakSpec] = []
    outages: list[OutageSpec] = []


class Agent(Strict):
    """Who manages the floor during the run (docs/eluna.md).

    ``mode``: ``off`` (the static plan), ``advise`` (the Eluna agent recommends, nothing changes),
    ``auto`` (it applies its recommendations, with the levers' delays), ``reactive`` (the rule-based
    shift lead, baseline (b)).
    """

    mode: Literal["off", "advise", "auto", "reactive"] = "off"
    period_min: Annotated[int, Field(ge=1, le=120)] = 10
    horizon_min: Annotated[int, Field(ge=5, le=240)] = 30
    lookahead: bool = True  # roll candidates forward on a fork of the twin (local link only)
    max_candidates: Annotated[int, Field(ge=1, le=16)] = 4
    min_gain: NonNegFloat = 0.02  # relative objective gain a candidate needs over doing nothing


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
    labour: Labour = Labour()
    agent: Agent = Agent()
