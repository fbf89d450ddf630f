"""The scene file schema (TOML), as strict pydantic models.

Every model forbids unknown keys and is frozen; numbers carry their unit in the key name. The
loader (`fctwin.sim.scene.loader`) turns a validated `SceneFile` plus the layout into a `Scene`.
See docs/scenes.md for a commented example.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

SUPPORTED_SCHEMA_VERSIONS = (1,)

# Upper bounds, checked before anything is allocated (a typo like ``count = 1e9`` must be an error
# in a moment, not minutes and gigabytes later). Each is far beyond any building we model: the
# largest shipped scene has 500 drive units, 5,000 pods, 20,000 SKUs on a 6,000-cell storage area.
MAX_DRIVE_UNITS = 10_000
MAX_GRID_CELLS = 4_000_000  # a 2,000 x 2,000 floor
MAX_PODS = 1_000_000
MAX_POD_SLOTS = 10_000_000  # pods x skus_per_pod
MAX_SKUS = 1_000_000
MAX_STATIONS = 1_000
MAX_RUN_HOURS = 24 * 366  # one year, simulated
MAX_SEED = 2**63 - 1

PosInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(ge=0, le=1)]


def _is_number_field(tp) -> bool:
    """An int or float field (or one of them or None), not one that also takes a bool."""
    if tp in (int, float):
        return True
    if get_origin(tp) in (Union, types.UnionType):
        args = get_args(tp)
        return bool not in args and any(a in (int, float) for a in args)
    return False


class Strict(BaseModel):
    # allow_inf_nan=False: TOML has inf and nan, and `rate_per_h = inf` or a NaN mean would run
    # (with no picks, or never ending) instead of being refused.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data):
        # Lax mode reads true as 1 and false as 0: `rate_per_h = true` ran at one order an hour.
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                value = data.get(field.alias or name)
                if isinstance(value, bool) and _is_number_field(field.annotation):
                    # the loader puts the key on the error's path (a model check has the model's)
                    raise PydanticCustomError(
                        "bool_for_number",
                        "must be a number, not {value}",
                        {"key": field.alias or name, "value": str(value).lower()},
                    )
        return data


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
    mean: Annotated[float, Field(ge=1, le=10_000)]
    max: Annotated[int, Field(gt=0, le=10_000)] = 1000


class Empirical(Strict):
    """Samples drawn uniformly from measured values (e.g. a calibrated cycle-time table)."""

    dist: Literal["empirical"]
    values: Annotated[list[NonNegFloat], Field(min_length=1, max_length=1_000_000)]


Distribution = Annotated[
    Constant | Exponential | Uniform | LogNormal | Gamma | Geometric | Empirical, Field(discriminator="dist")
]


# ---------------------------------------------------------------- layout


class Generator(Strict):
    """RAWSim-O-style storage blocks (see sim.scene.layout.generate_blocks)."""

    blocks_x: Annotated[int, Field(gt=0, le=1_000)]
    blocks_y: Annotated[int, Field(gt=0, le=1_000)]
    block_cols: Annotated[int, Field(gt=0, le=1_000)]
    block_rows: Annotated[int, Field(gt=0, le=1_000)]
    aisle_cells: Annotated[int, Field(gt=0, le=100)] = 1
    hallway_cells: Annotated[int, Field(gt=0, le=100)] = 2
    docks: Annotated[int, Field(gt=0, le=1_000)] = 1
    charging: Annotated[int, Field(ge=0, le=10_000)] = 4

    @model_validator(mode="after")
    def _size(self):
        # An upper estimate of the floor (blocks with their aisles, hallways around): refused before
        # the generator allocates it.
        rows = self.blocks_y * (self.block_rows + self.aisle_cells) + 2 * self.hallway_cells + 4
        cols = self.blocks_x * (self.block_cols + self.aisle_cells) + 2 * self.hallway_cells + 4
        if rows * cols > MAX_GRID_CELLS:
            raise ValueError(
                f"the floor would be about {rows:,} x {cols:,} cells; at most {MAX_GRID_CELLS:,} cells"
            )
        return self


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
    cell_size_m: Annotated[float, Field(ge=0.1, le=10.0)] = 1.0
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
    count: Annotated[int, Field(gt=0, le=MAX_DRIVE_UNITS)]
    id_prefix: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] = "T"
    # Physical bounds keep one action step between ~0.05 s and an hour: a run's tick count is
    # run time / step time, and a step of 1e-300 s would never end.
    max_speed_mps: Annotated[float, Field(gt=0, le=20)] = 1.5
    accel_mps2: Annotated[float, Field(gt=0, le=50)] = 0.5
    turn_90_s: Annotated[float, Field(ge=0.05, le=3600)] = 0.625  # a full 360 deg turn in 2.5 s
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
    count: Annotated[int, Field(gt=0, le=MAX_PODS)]
    empty_mass_kg: PosFloat = 120.0
    max_gross_mass_kg: PosFloat = 450.0
    bins: Annotated[int, Field(gt=0, le=10_000)] = 40
    # Units per pod are int32 in the dispatcher's stock book; 1e6 is far above any real pod.
    capacity_units: Annotated[int, Field(gt=0, le=1_000_000)] = 400
    skus_per_pod: Annotated[int, Field(gt=0, le=10_000)] = 8
    initial_fill_frac: Frac = 0.6
    # Initial slotting (docs/slotting.md): "random" (the default: SKUs mixed at random, pods on random
    # cells), "class_based" (pods on cells of their ABC velocity class), "turnover" (fastest pods on
    # the nearest cells), "affinity" (co-ordered SKUs share pods), "combined" (affinity + turnover).
    placement: Literal["random", "class_based", "turnover", "affinity", "combined"] = "random"
    # orders sampled from the scene's demand model as the history affinity placement learns from;
    # unset: 20,000 or 5 per SKU, whichever is more (in 20,000 orders fc_large's 20,000 SKUs
    # appear about twice each, too few to learn who is bought with whom)
    placement_history_orders: PosInt | None = None

    @model_validator(mode="after")
    def _slots(self):
        if self.count * self.skus_per_pod > MAX_POD_SLOTS:
            raise ValueError(
                f"{self.count:,} pods x {self.skus_per_pod:,} SKUs per pod: more than {MAX_POD_SLOTS:,} slots"
            )
        return self


class StationGroup(Strict):
    """Stations of one kind and unit type; cells come from the layout in order, or are given."""

    kind: Literal["pick", "stow"]
    unit: Literal["human", "vulcan", "bluejay", "sequoia"] = "human"
    count: Annotated[int, Field(gt=0, le=MAX_STATIONS)] = 1
    id_prefix: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] | None = None
    cells: list[tuple[int, int]] | None = None
    per_pod_s: Distribution = Constant(dist="constant", value=2.0)
    per_unit_s: Distribution = LogNormal(dist="lognormal", mean=10.0, cv=0.3)
    # Arms (vulcan, bluejay, sequoia): share of units that succeed (failures go to a person); None
    # uses the calibrated rate of robots/data/station_models.json. Not valid for human stations.
    success_rate: Frac | None = None
    queue_cells: Annotated[int, Field(ge=0, le=1_000)] = 3
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
    # Measured SKU popularity fits exponents of about 0.5-1.5; beyond 10 every order is for SKU 1
    # (and 1 / k**exponent overflows to 0 for the rest).
    exponent: Annotated[float, Field(gt=0, le=10)] = 1.0


class AbcClass(Strict):
    share_of_skus: Frac
    share_of_demand: Frac

    @model_validator(mode="after")
    def _has_skus(self):
        if self.share_of_demand > 0 and self.share_of_skus == 0:
            raise ValueError(
                "a class with share_of_demand > 0 needs share_of_skus > 0 (its demand has no SKU)"
            )
        return self


class Abc(Strict):
    kind: Literal["abc"]
    classes: Annotated[list[AbcClass], Field(min_length=1, max_length=1_000)]

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
    count: Annotated[int, Field(gt=0, le=MAX_SKUS)]
    popularity: Popularity = Zipf(kind="zipf", exponent=1.0)
    families: Families | None = None
    size_min_m: tuple[PosFloat, PosFloat, PosFloat] = (0.05, 0.05, 0.02)
    size_max_m: tuple[PosFloat, PosFloat, PosFloat] = (0.40, 0.30, 0.30)
    mass_min_kg: PosFloat = 0.05
    mass_max_kg: PosFloat = 4.0

    @model_validator(mode="after")
    def _classes_get_skus(self):
        pop = self.popularity
        if pop.kind != "abc":
            return self
        # The compiler gives each class round(share_of_skus * count) SKUs (the last one the rest):
        # a class with demand but no SKU after rounding would silently lose its demand.
        start = 0
        for i, cls in enumerate(pop.classes):
            last = i == len(pop.classes) - 1
            k = self.count - start if last else int(round(cls.share_of_skus * self.count))
            k = max(0, min(k, self.count - start))
            if cls.share_of_demand > 0 and k == 0:
                raise ValueError(
                    f"popularity.classes[{i}] gets no SKU of {self.count} (share_of_skus "
                    f"{cls.share_of_skus:g}) but has share_of_demand {cls.share_of_demand:g}"
                )
            start += k
        return self


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
    rate_per_h: Annotated[float, Field(gt=0, le=1_000_000)]
    hourly_profile: Annotated[list[NonNegFloat], Field(min_length=24, max_length=24)] | None = None
    start_hour: Annotated[int, Field(ge=0, le=23)] = 8
    lines_per_order: Distribution = Geometric(dist="geometric", mean=1.6, max=8)
    units_per_line: Distribution = Geometric(dist="geometric", mean=1.2, max=5)
    # Demand structure for slotting (docs/slotting.md); none of it set gives today's draws exactly.
    basket: Basket | None = None
    drift: Drift | None = None
    promotions: list[Promotion] = []
    # With an inbound scenario: the SKUs the network's demand model puts on promotion are lifted in
    # this order stream too, by the network's promo_lift, over the same days.
    promotions_from_inbound: bool = False


class InboundWave(Strict):
    """A burst of cartons at the dock (a port backlog released): ``cartons`` spread evenly over
    ``minutes`` from ``at_h`` hours into the run, on top of the Poisson stream."""

    at_h: NonNegFloat
    minutes: PosFloat
    cartons: PosInt


class StrikeWave(Strict):
    """A port strike in the inbound-network model (``scenario``, a path from this scene's folder):
    the backlog it held for this FC's region, released when it ends, lands on this dock as a wave.
    ``share`` of the released cartons come to this floor (the rest go to the building's other
    receive lines), spread evenly over ``minutes`` from ``at_h`` hours into the run (the dock doors
    unloading the trailers), SKUs as in the held shipments. ``start_day`` is the network's KPI day
    the strike begins (omit: one day before the first vessel bound for this region calls at the
    port, so the strike holds it)."""

    scenario: str
    port: str
    strike_days: Annotated[float, Field(gt=0, le=60)] = 3.0
    start_day: Annotated[float, Field(ge=0, le=3650)] | None = None
    at_h: NonNegFloat
    minutes: PosFloat
    share: Annotated[float, Field(gt=0, le=1)] = 1.0


class Inbound(Strict):
    cartons_per_h: Annotated[float, Field(ge=0, le=100_000)] = 0.0
    units_per_carton: Annotated[int, Field(gt=0, le=100_000)] = 12
    # The supplier's lead time for the dispatcher's purchase orders (dispatch.replenishment), in
    # hours from order to the dock: a domestic DC or regional storage answers within a shift.
    lead_time_h: Distribution = Constant(dist="constant", value=4.0)
    scenario: str | None = None  # an inbound-network scene whose FC dock arrivals feed this run
    start_day: Annotated[int, Field(ge=0, le=3650)] = 0
    waves: list[InboundWave] = []
    strike_wave: StrikeWave | None = None  # a wave from the inbound network's port strike


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
    max_lines_per_station: Annotated[int, Field(gt=0, le=100_000)] = 12
    # idle units below this battery fraction charge when a pad is free (0 = only at low battery)
    opportunity_charge_frac: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    # a station closed this long is drained: pods not yet at its face go back to storage and their
    # lines to the open stations (controller/closures.py); longer than a 30-minute break
    closed_queue_hold_min: Annotated[float, Field(ge=0.0, le=100_000.0)] = 45.0

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


class ShiftBreakSpec(Strict):
    """A break of one shift (``labour.shifts[k].breaks``): ``after_h`` hours from the shift's start,
    repeated wherever the shift is (a daily plan's break every day)."""

    after_h: NonNegFloat
    minutes: PosFloat
    associates: PosInt  # people on break at once (from the most-staffed stations)


class ShiftSpec(Strict):
    """One shift of ``[[labour.shifts]]``: run hours ``start_h``..``end_h``, its staffing (stations
    not named get one associate) and its pool (default: the staffing total). Checked against the
    stations, the other shifts and the run by the loader (`fctwin.sim.scene.shifts`)."""

    name: Annotated[str, Field(min_length=1, max_length=40)]
    start_h: Annotated[float, Field(ge=0, le=MAX_RUN_HOURS)]
    end_h: Annotated[float, Field(gt=0, le=MAX_RUN_HOURS)]
    staffing: dict[str, NonNegInt] = {}
    pool: NonNegInt | None = None
    breaks: Annotated[list[ShiftBreakSpec], Field(max_length=100)] = []


class Labour(Strict):
    """The shift plan for person-worked (human) stations: the manager's labour levers.

    ``staffing`` maps station ids to associates (0 = closed at the start); stations not named get
    one. ``pool`` is everyone on shift (default: the staffing total); the rest float, ready to be
    sent to a station. Delays: ``walk_s`` for a move (walk plus changeover), ``open_s`` more when
    the station was closed.

    ``shifts`` (``[[labour.shifts]]``) replaces ``staffing`` and ``pool`` with one crew per shift
    (give one or the other); ``shift_cycle_h`` repeats the plan (24: a daily plan), and a stretch
    with no shift on the floor is refused unless ``allow_gaps`` (docs/eluna_s16_shifts16.md).
    """

    staffing: dict[str, NonNegInt] = {}
    pool: NonNegInt | None = None
    shifts: Annotated[list[ShiftSpec], Field(max_length=1_000)] = []
    shift_cycle_h: Annotated[float, Field(gt=0, le=MAX_RUN_HOURS)] | None = None
    allow_gaps: bool = False
    walk_s: NonNegFloat = 120.0
    open_s: NonNegFloat = 180.0
    max_per_station: Annotated[int, Field(ge=1, le=8)] = 3
    rate_model: RateModelSpec = RateModelSpec()
    breaks: list[BreakSpec] = []
    outages: list[OutageSpec] = []
    # Sequoia stow ports are person-worked too (the "Sequoia decant" role): they join the labour
    # board like human stations (staffing, moves with walk_s, breaks, outages) and the agent's moves.
    sequoia_decant: bool = False


class Agent(Strict):
    """Who manages the floor during the run (docs/eluna.md).

    ``mode``: ``off`` (the static plan), ``advise`` (the Eluna agent recommends, nothing changes),
    ``auto`` (it applies its recommendations, with the levers' delays), ``reactive`` (the rule-based
    shift lead, baseline (b)).
    """

    mode: Literal["off", "advise", "auto", "reactive"] = "off"
    period_min: Annotated[int, Field(ge=1, le=120)] = 10
    horizon_min: Annotated[int, Field(ge=5, le=240)] = 30
    # How the agent judges its candidate plans: "fork" rolls each forward on a fork of the twin when
    # the run allows one (headless, in-process fleet host; otherwise it falls back to "model"),
    # "model" always ranks them by the fluid model, the path a live run (`--gui`, `--realtime`,
    # `fctwin serve`: hardware in the loop) takes, so a headless run measures that agent.
    lookahead: Literal["fork", "model"] = "fork"
    max_candidates: Annotated[int, Field(ge=1, le=16)] = 4
    min_gain: NonNegFloat = 0.02  # relative objective gain a candidate needs over doing nothing
    # Further levers the agent may propose (docs/eluna.md): order release and station weights,
    # traffic rules (one-way aisles in congested areas), pre-positioning pods. Off by default.
    floor_levers: list[Literal["release", "traffic", "preposition"]] = []
    # People at a starved station (work waiting, no pod coming, nothing served for 10 minutes):
    # "lend" them to a pressed station where pods wait for people, "park" also sends those nobody
    # needs to the pool until pods reach their kind again (docs/eluna.md). Off by default.
    starved: Literal["off", "lend", "park"] = "off"
    # One stower to the pool when the drive units, not the people, set the stow rate and the
    # stations left cover the busiest known hour of cartons ahead (controller/eluna/stow_release.py).
    # Off by default: a service trade (measured: order-cycle p95 +4-6% on the balanced floor for
    # +13-15% units per labour hour), which the "never worse by 1%" goal does not allow.
    stow_release: bool = False
    # A release (one person to the pool on a quiet floor) must leave the people of the kind serving
    # its busiest known hour at no more than 70% of their pace (controller/eluna/agent.py
    # `people_keep_up`), not at 85% of the rate stations were seen to serve, which on a floor that
    # keeps up is the arriving rate shared over them and let no release through once the run's
    # rates had settled (docs/eluna_s17_release17.md). The people it releases stay on call
    # (controller/eluna/on_call.py): called back free of a hire's price when a kind turns hot;
    # without that, on eluna_outage a stower released at 08:30 was never called back during the
    # outage. On by default since session 19: the full protocol ran with it (docs/eluna.md "Where it
    # stands"); the 72-hour run that turned it off in session 18 had stalled on a dispatcher fault
    # (pods held by stations closed for the night, controller/closures.py), not on the releases:
    # with that fixed, 72 hours with it keep up (seeds 8 and 9). `false` gives the agent of
    # sessions 13-18.
    release_pace: bool = True
    # Hours of the scene's planned carton stream (``[inbound] cartons_per_h``) the release's stow
    # rate counts as seen (`ElunaAgent.release_arriving`): a Gamma-Poisson prior on the one-hour
    # mean of cartons arriving, so an hour's Poisson noise above the plan does not hold a release
    # back. Traced on eluna_balanced seed 2 (tuning seeds, 2026-12-07): 47 cartons in the first
    # hour of a 36-an-hour stream (+1.8 sd) put the stowers left over the 70% bound for an hour,
    # and the release came at 11:10 instead of 08:30. 0: the hour's mean alone (sessions 17-20). It
    # only pulls a reading towards the plan (a scene with no planned stream has no prior), and the
    # plan stays a floor under it. One hour by default since session 21 (docs/eluna_s21_release21.md).
    release_prior_h: Annotated[float, Field(ge=0.0, le=24.0)] = 1.0
    # The release's stow rate counts only the cartons no schedule announced (controller/eluna/agent.py
    # `release_unscheduled`): a wave's or a trailer's cartons on the dock schedule are one-off,
    # known ahead (the busiest hour of the schedule still to come) and, once landed, in the stow
    # backlog the pressure gate reads; in the hour's mean too, they read as a stream at the wave's
    # rate for an hour after it has passed. On by default since session 22 (docs/eluna_s22_unscheduled.md:
    # on the training scenes it can change, 1 of 20 tuning runs and 1 of 20 protocol runs changed,
    # each with more units per labour hour). `false`: the hour's mean of every carton (sessions 17-21).
    release_unscheduled: bool = True
    # Beside the greedy plan (floaters first), a plan moving only people already paid: every lend
    # the other kind can spare an hour ahead, at once (controller/eluna/agent.py `_greedy`). Off by
    # default: measured neutral on units per labour hour (docs/eluna.md).
    paid_first: bool = False
    # On a charging-bound floor (more units waiting for a pad than pads, now and 30 minutes ahead),
    # judge the plans over the projected charging wave (at most 120 minutes), on the p95 of every
    # order the horizon saw, confirmed on three futures (controller/eluna/agent.py
    # `lookahead_horizon_s`). Off by default: measured mixed on eluna_battery seeds 11-20
    # (docs/eluna_s14_battery14.md: over the wave a release passed the guards and cost units).
    charging_wave: bool = False
    # The forecaster's learned correction (controller/eluna/residual.py): its blend of the fluid
    # model with persistence scaled by a weight fitted on the training floors only. Off by default:
    # on the held-out and unseen floors it lifts the 30-minute skill; the agent, which reads these
    # forecasts, was measured with it on only on four scenes (neutral; docs/eluna_s16_fcast16.md).
    learned_forecast: bool = False
    # The forecaster's unsaturated level by Little's law (controller/eluna/forecast.py
    # `_little_level`): the open lines the work is pulled back to move with the inflow ahead against
    # the arrivals the level was learned at, learned once the floor has filled from empty. On by
    # default since session 18: the agent's 100 protocol runs with it are the runs without it (same
    # event logs), and replayed over the static plan's and the shift lead's recorded digests it lifts
    # the 30-minute skill on every scene but the held-out one (docs/eluna.md, "Forecast skill";
    # docs/eluna_s17_fcast17.md). `false` gives the session-17 forecasts.
    little_forecast: bool = True
    # The fork lookahead's order-cycle p95 counts the orders still open at the horizon's end at
    # their age then, not the finished orders alone, which reward leaving an old backlog open
    # (sim/eluna/lookahead.py `cycle_p95_s`). Off by default: measured neutral on eluna_misstaffed,
    # balanced and outage seeds 11-20 (docs/eluna_s14_release14.md).
    p95_open_orders: bool = False
    # The service guards forgive one carton's units of stow shortfall over the horizon: a carton is
    # stowed whole, and the 99.5%-of-units test is finer than one (controller/eluna/agent.py
    # `_units_kept`). Off from session 14 to 20: without `release_pace` it let a double release
    # through on eluna_balanced seed 20 (units/h -3.4% against (a); docs/eluna_s14_release14.md),
    # which `people_keep_up` now refuses (two stowers left at 90% of their pace). On by default
    # since session 21, with `release_prior_h` (docs/eluna_s21_release21.md): on balanced tuning
    # seeds 3 and 7 it was what held the first release back (one carton short on one sampled
    # future, refused again and again).
    carton_quantum: bool = True
    # The model path's order-cycle p95 (`lookahead = "model"`, and `fctwin serve`;
    # controller/eluna/cycle_tail.py): each pick station's queue played FIFO over the fluid
    # projection, for the service guard; "done" over the orders the horizon sees finish (the fork's
    # measure), "all" over every order it sees (the open at their age at its end); "off": none, the
    # version before (the guard cannot see p95). The fork path ignores it. "done" measured on the
    # training scenes, seeds 11-20: port strike p95 against (b) +11.3% -> +3.2% (the static plan's),
    # inbound wave +8.7% -> +0.9%, the other five the same runs (docs/eluna_s15_modelp95.md).
    model_p95: Literal["off", "done", "all"] = "done"
    # The end of the shift as a shift manager sees it (controller/eluna/shift_end.py): the last
    # horizon ends at the shift's end and weighs the work open then whole (it is carried into the
    # next shift), lends and ways home look only as far ahead as the shift lasts, and a way back to
    # the plan in the last horizon must pay for itself. Off by default (docs/eluna_s15_backlog15.md).
    shift_end: bool = False
    # The model path holds a picker added from outside pick (a stower lent, a floater called in)
    # while the drive units are at the pads: at least as many units wait for a pad as there are
    # pads and none is idle (controller/eluna/agent.py `_fleet_held`). The fork path ignores it.
    # Measured on the training scenes, seeds 11-20: battery u/labour-h against (a) -1.0% -> -0.3%,
    # u/h against (b) -1.3% -> -0.2%, p95 against (b) +20.6% -> +10.6%, open work against (b)
    # +124% -> +9%; the other six the same runs (docs/eluna_s15_mbattery15.md).
    model_charging_hold: bool = True
    # A stated service promise (seconds of order-cycle p95, e.g. 600: orders ship within ten
    # minutes at the 95th percentile): a plan whose lookahead p95 stays under 0.9 of it on both
    # sampled futures passes the p95 guard even when it is above doing nothing's, so the agent may
    # trade the service it has won below the promise for labour (controller/eluna/agent.py
    # `keeps_service`). Absent by default: the guard protects doing nothing's p95 alone
    # (docs/eluna_s15_sla15.md).
    p95_target_s: PosFloat | None = None
    # A free service move: when no plan wins on efficiency, a move of people already paid between
    # stations (no floater, no call-in, no release) that keeps efficiency and brings the order-cycle
    # p95 of every order the horizon sees down by more than one sample's noise on two sampled
    # futures (controller/eluna/service_move.py). Off by default until measured
    # (docs/eluna_s16_svc16.md).
    service_moves: bool = False
    # A stower lent to pick while a wave or trailer is on the dock schedule, until it is near: no
    # lend with a scheduled carton due within 30 minutes, the stow work checked before its first
    # carton only, and the lent stower home once one is due within 15 (controller/eluna/dock_lend.py).
    # Off: such a lend needs the stations left to serve the schedule's busiest hour, so none is made
    # before a trailer (docs/eluna_s16_held16.md).
    lend_until_dock: bool = False
    # While a pick station is down (unplanned), pick's pressure counts at least the backlog one hour
    # of the plan's busiest demand ahead leaves at the open stations' seen rate
    # (controller/eluna/outage_peak.py): the forecast saw the queue drain when it grew. Off by
    # default (docs/eluna_s16_held16.md).
    outage_peak: bool = False
    # A stower lent to pick and held there while the floor shows the charging wave (at least as
    # many drive units waiting for a pad as pads), decided on what the floor shows: pick pressed with
    # pods queued for its people, a stower without a pod, stow able to spare them an hour ahead; the
    # lookahead only vetoes a clear loss of units (controller/eluna/charging_lend.py). Home when the
    # wave has cleared and pick is quiet without them, or when stow needs them. Off by default
    # (docs/eluna_s17_battery17.md).
    charging_lend: bool = False

    @field_validator("p95_target_s", mode="before")
    @classmethod
    def _target_is_seconds(cls, v):
        # TOML `true` would pass as 1.0 s in lax mode: a switch is not a target
        if isinstance(v, bool):
            raise ValueError(f"is a number of seconds (e.g. 600) or absent, not {str(v).lower()}")
        return v

    @field_validator("lookahead", mode="before")
    @classmethod
    def _lookahead_named(cls, v):
        # the field was a bool before session 14 (true: fork when possible, false: the fluid model);
        # say what it became rather than "input should be 'fork' or 'model'" alone
        if isinstance(v, bool):
            raise ValueError(f'is "fork" or "model" now, not {str(v).lower()} (false was "model")')
        return v


Cellspec = Annotated[list[NonNegInt], Field(min_length=2, max_length=2)]


class ReleaseSpec(Strict):
    """Order release to the pick stations: ``orders_per_min`` (omitted: no limit; 0: hold every
    order) and ``station_weights`` steering orders between pick stations (weight 0: none there)."""

    at_h: NonNegFloat = 0.0
    orders_per_min: Annotated[float, Field(ge=0.0, le=10_000.0)] | None = None
    station_weights: dict[str, Annotated[float, Field(ge=0.0, le=100.0)]] | None = None


class ClosureSpec(Strict):
    """Aisle or parking cells closed to drive units from ``at_h`` for ``minutes`` (omitted: to the end)."""

    cells: Annotated[list[Cellspec], Field(min_length=1, max_length=1_000)]
    at_h: NonNegFloat = 0.0
    minutes: PosFloat | None = None


class OneWaySpec(Strict):
    """One row (``row`` with ``cols = [first, last]``, direction E or W) or one column (``col`` with
    ``rows``, S or N) made one-way through the planner's guidance from ``at_h``."""

    direction: Literal["E", "W", "S", "N"]
    row: NonNegInt | None = None
    cols: Cellspec | None = None
    col: NonNegInt | None = None
    rows: Cellspec | None = None
    at_h: NonNegFloat = 0.0
    minutes: PosFloat | None = None

    @model_validator(mode="after")
    def _one_line(self):
        if (self.row is None) == (self.col is None):
            raise ValueError("give either row (with cols) or col (with rows)")
        if self.row is not None and (self.cols is None or self.rows is not None):
            raise ValueError("a row needs cols = [first, last] (and no rows)")
        if self.col is not None and (self.rows is None or self.cols is not None):
            raise ValueError("a column needs rows = [first, last] (and no cols)")
        if self.row is not None and self.direction not in ("E", "W"):
            raise ValueError(f"a row runs E or W, not {self.direction}")
        if self.col is not None and self.direction not in ("S", "N"):
            raise ValueError(f"a column runs S or N, not {self.direction}")
        return self


class PrepositionSpec(Strict):
    """At ``at_h``, idle drive units bring the ``pods`` most wanted pods next to pick ``station``."""

    station: str
    at_h: NonNegFloat
    pods: Annotated[int, Field(ge=1, le=100)] = 4


class LeversSpec(Strict):
    """Floor levers set by the plan at given times (docs/eluna.md, levers table)."""

    release: list[ReleaseSpec] = []
    closures: list[ClosureSpec] = []
    one_way: list[OneWaySpec] = []
    preposition: list[PrepositionSpec] = []

    @property
    def empty(self) -> bool:
        return not (self.release or self.closures or self.one_way or self.preposition)


class SceneFile(Strict):
    schema_version: int
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    run_hours: Annotated[float, Field(gt=0, le=MAX_RUN_HOURS)] = 8.0
    layout: Layout
    fleet: Annotated[list[DriveUnitGroup], Field(min_length=1, max_length=1_000)]
    pods: Pods
    stations: Annotated[list[StationGroup], Field(min_length=1, max_length=MAX_STATIONS)]
    docks: Docks = Docks()
    skus: Skus
    orders: Orders
    inbound: Inbound = Inbound()
    dispatch: Dispatch = Dispatch()
    labour: Labour = Labour()
    agent: Agent = Agent()
    levers: LeversSpec = LeversSpec()

    @model_validator(mode="after")
    def _families_for_baskets(self):
        if self.skus.families is None and (self.orders.basket is not None or self.orders.promotions):
            raise ValueError("orders.basket and orders.promotions need skus.families")
        if self.orders.promotions_from_inbound and not self.inbound.scenario:
            raise ValueError(
                "orders.promotions_from_inbound needs inbound.scenario (a coupled inbound network)"
            )
        if self.skus.families is not None:
            n_fam = -(-self.skus.count // self.skus.families.size)
            for k, promo in enumerate(self.orders.promotions):
                if promo.family >= n_fam:
                    raise ValueError(f"orders.promotions[{k}].family: {promo.family} >= {n_fam} families")
        return self
