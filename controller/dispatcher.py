"""The dispatcher agent: orders -> station assignment -> pod trips -> unit allocation -> plans -> commands.

One call per lockstep tick: `Dispatcher.tick(frame)` reads a `TelemetryFrame` (what every unit
reports) and returns the `CommandBatch` for that step. Orders and inbound cartons arrive through
`submit_order` / `submit_carton`. Everything the dispatcher decides is appended to `log` as plain
records for the run store.

Every decision is a policy (`fctwin.controller.policies`, RAWSim-O's vocabulary; Merschformann et
al. 2019 found order-to-station assignment the rule that matters most), named in `DispatchConfig`.
The defaults:
- order assignment (`least_loaded`): least-loaded pick station with room (open lines below a cap);
- pod selection (`most_lines`): the pod covering the most open lines of the station (ties: nearest);
- pile-on (fixed): a pod at a station also serves lines that arrived after it was chosen;
- unit allocation (`nearest`): the idle unit parked under that pod, else the nearest idle unit;
- pod storage (`nearest_free`): the nearest free storage cell to the station (`home`: the pod's own);
- stow assignment (`shortest_queue`), charging (`opportunity`), parking (`under_pod`), planner (`pibt`).

The class is assembled from parts with one job each, over one shared state:
`records` (the dataclasses), `events` (telemetry and events), `decisions` (asking the policies),
`trips` (trip execution), `stations` (station geometry), `motion` (the planner step), `levers`
(the manager's levers as entry points).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from fctwin.controller.closures import StationClosures
from fctwin.controller.decisions import Decisions
from fctwin.controller.events import EventHandling
from fctwin.controller.floorplan import (
    AISLE,
    CHARGE,
    DOCK,
    PARK,
    PICK,
    STORAGE,
    STOW,
    WALL,
    DispatchConfig,
    FloorPlan,
)
from fctwin.controller.inventory import InventoryBook
from fctwin.controller.levers import LeverEntryPoints
from fctwin.controller.motion import PlannerStep
from fctwin.controller.orders import Carton, Order
from fctwin.controller.planning import GridMaps
from fctwin.controller.policies import FAMILIES, build_policies
from fctwin.controller.records import (
    AT_STATION,
    LIFTING,
    NO_GOAL,
    PHASE_NAMES,
    SETTING_DOWN,
    TO_POD,
    TO_STATION,
    TO_STORAGE,
    Cell,
    Line,
    OrderRec,
    StationRec,
    Trip,
    UnitRec,
)
from fctwin.controller.stations import StationLayout
from fctwin.controller.stock import StockControl
from fctwin.controller.telemetry_columns import ColumnsIngest
from fctwin.controller.trips import TripExecution
from fctwin.robots.messages import CommandBatch, TelemetryFrame


class Dispatcher(
    EventHandling,
    Decisions,
    StockControl,
    TripExecution,
    StationLayout,
    PlannerStep,
    LeverEntryPoints,
    StationClosures,
):
    """Runs the floor. Construct with a `FloorPlan` and a `DispatchConfig`; call `tick` every step."""

    def __init__(self, plan: FloorPlan, config: DispatchConfig):
        self.plan = plan
        self.config = config
        self.grid = plan.grid
        self.book = InventoryBook(
            pod_cells=plan.pod_cells,
            slot_sku=plan.slot_sku,
            slot_units=plan.slot_units,
            capacity_units=plan.pod_capacity_units,
            empty_mass_kg=plan.pod_empty_mass_kg,
            max_gross_mass_kg=plan.pod_max_gross_mass_kg,
            sku_mass_kg=plan.sku_mass_kg,
        )
        # one policy per family, by the names in the config (PolicyError, a ValueError, if unknown)
        self.policies = build_policies({f: getattr(config, f) for f in FAMILIES}, dict(config.params))
        self.pod_home: list[Cell] = [(int(r), int(c)) for r, c in plan.pod_cells]
        self.units = [UnitRec(unit_id=u.unit_id) for u in plan.drive_units]
        # per-tick lookups, rebuilt by _advance: who stands where, which pods are committed, parking
        self._cell_owner: dict[Cell, int] = {}
        self._busy_cells: set[Cell] = set()
        self._park_taken: dict[Cell, int] = {}
        self._queue_removals: dict[int, list[tuple[int, int]]] = {}  # this tick's, by `_advance`
        self.unit_index = {u.unit_id: i for i, u in enumerate(self.units)}
        self._unit_ids = [u.unit_id for u in self.units]
        self.low_battery = [float(u.low_battery_frac) for u in plan.drive_units]
        self.stations = [
            StationRec(s.station_id, s.kind, s.cell, accepts_withdraw=s.accepts_withdraw)
            for s in plan.stations
        ]
        self.station_index = {s.station_id: i for i, s in enumerate(self.stations)}
        self.orders: dict[int, OrderRec] = {}
        self.backlog: deque[int] = deque()
        self.trips: list[Trip] = []  # trips without a unit yet
        self.next_trip_id = 1
        self.next_command_id = 1
        self.log: list[tuple] = []  # (t_s, kind, unit_id, a, b, c)
        self.stats = {
            "units_picked": 0,
            "units_stowed": 0,
            "units_to_person": 0,
            "orders_completed": 0,
            "lines_completed": 0,
            "cartons_stowed": 0,
            "trips_completed": 0,
            "reslot_moves": 0,  # pod moves made for re-slotting (move trips)
            "refusals": 0,
            "planner_s": 0.0,
            "planner_steps": 0,
            "lines_arrived": 0,
            "cartons_arrived": 0,
            "lines_backordered": 0,
            "purchase_orders": 0,
            "units_ordered_from_supplier": 0,
        }
        self.cycle_times_s: list[float] = []
        self.return_targets: set[Cell] = set()
        self.charge_targets: set[Cell] = set()
        self.blocked_cells: set[Cell] = set()  # closed at run time (failed units, blocked aisles)
        # Planner state
        height, width = self.grid.shape
        walk = np.isin(self.grid, [AISLE, STORAGE, PICK, STOW, CHARGE, PARK])
        self.walk_unloaded = walk
        self.static_loaded = np.isin(self.grid, [AISLE, PICK, STOW, CHARGE, PARK])
        self.storage_mask = self.grid == STORAGE
        self.pods_mask = np.zeros((height, width), dtype=bool)
        for cell in self.book.pod_at:
            self.pods_mask[cell] = True
        self.planner = self.policies.planner
        self.grid_maps = GridMaps(walk.copy(), self._loaded_map())
        self.planner.reset(self.grid_maps, len(self.units), seed=config.seed)
        n = len(self.units)
        self.pos = np.zeros((n, 2), dtype=np.int32)
        self.heading = np.zeros(n, dtype=np.int8)
        self.goal = np.full((n, 2), -1, dtype=np.int32)
        self.loaded = np.zeros(n, dtype=bool)
        self.active = np.ones(n, dtype=bool)
        self._pos_flat = self.pos.reshape(-1)  # views, for fast per-tick refills
        # Units marked failed (`_unit_failed` sets it, `unit_recovered` clears it): telemetry as
        # columns is read as arrays only while no unit is failed or reported failed.
        self.failed_units: set[int] = set()
        self._columns = ColumnsIngest()
        # The planner's moves as one `MoveColumns` block of the batch instead of a `Move` each: set by
        # the run when its fleet host reads blocks (`RunOptions.wire_columns`).
        self.move_columns = False
        self.move_block = None
        self._goal_flat = self.goal.reshape(-1)
        self.actions = np.full(n, 3, dtype=np.int8)
        self._prepare_stations()
        self.storage_cells = np.argwhere(self.storage_mask).astype(np.int32)
        self._storage_rows = self.storage_cells[:, 0].astype(np.int64)
        self._storage_cols = self.storage_cells[:, 1].astype(np.int64)
        self._storage_slot = {(int(r), int(c)): k for k, (r, c) in enumerate(self.storage_cells.tolist())}
        self.t_s = 0.0
        self.step = 0
        self._init_levers()
        self._init_closures()
        self._init_stock(len(plan.sku_mass_kg))
        for family in FAMILIES:
            setup = getattr(getattr(self.policies, family), "setup", None)
            if family != "planner" and setup is not None:
                setup(self)

    # ================================================================= inputs

    def submit_order(self, order: Order) -> None:
        self.orders[order.order_id] = OrderRec(order=order, lines_left=len(order.lines))
        self.backlog.append(order.order_id)
        self.stats["lines_arrived"] += len(order.lines)
        demand_open, demand_new = self.sku_demand_open, self._demand_new
        for ln in order.lines:
            demand_open[ln.sku] += ln.units
            demand_new[ln.sku] += ln.units
        self.log.append((order.t_s, "order_arrived", "", order.order_id, len(order.lines), 0))

    def submit_carton(self, carton: Carton, station_id: str | None = None) -> None:
        stow = [i for i, s in enumerate(self.stations) if s.kind == "stow"]
        if not stow:
            raise ValueError("no stow station to receive inbound cartons")
        stow = [i for i in stow if self.stations[i].associates > 0] or stow  # closed: only if all are
        if station_id is None:
            idx = self.policies.stow_assignment.station_for(self, carton, stow)
        else:
            idx = self.station_index[station_id]
        if not carton.po_id:  # a carton nobody ordered here (the scene's fixed stream, the inbound model)
            self.sku_inbound[carton.sku] += carton.units
        self.stations[idx].pending.append(Line(carton.carton_id, carton.sku, carton.units, carton.t_s))
        self.stats["cartons_arrived"] += 1
        self.log.append(
            (
                carton.t_s,
                "carton_ready",
                self.stations[idx].station_id,
                carton.carton_id,
                carton.sku,
                carton.units,
            )
        )

    def block_cell(self, cell: Cell) -> None:
        """Close a cell at run time (a blocked aisle); respected from the next step."""
        self.blocked_cells.add(cell)

    def unblock_cell(self, cell: Cell) -> None:
        self.blocked_cells.discard(cell)

    # ================================================================= the tick

    def tick(self, frame: TelemetryFrame) -> CommandBatch:
        self.t_s = frame.t_s
        self.step = frame.step
        commands: list = self.lever_commands
        self.lever_commands = []
        self._ingest(frame, commands)
        if self.closed_since_s:
            self._drain_closed_stations(commands)
        if self._reorders and self.t_s >= self._next_review_s:
            self._review_stock()
        self._assign_orders()
        self._make_trips()
        self._make_reslot_moves()
        self._allocate_units()
        self._advance(commands)
        self._plan(commands)
        moves, self.move_block = self.move_block, None
        return CommandBatch(step=frame.step, t_s=frame.t_s, commands=commands, moves=moves)

    def _cid(self) -> int:
        cid = self.next_command_id
        self.next_command_id += 1
        return cid

    # ================================================================= views

    def queue_lengths(self) -> dict[str, int]:
        return {s.station_id: len(s.queue) for s in self.stations}

    def busy_units(self) -> int:
        return sum(1 for u in self.units if u.trip is not None)

    def open_orders(self) -> int:
        return len(self.orders)


__all__ = [
    "AT_STATION",
    "DOCK",
    "LIFTING",
    "NO_GOAL",
    "PHASE_NAMES",
    "SETTING_DOWN",
    "TO_POD",
    "TO_STATION",
    "TO_STORAGE",
    "WALL",
    "Cell",
    "Dispatcher",
    "Line",
    "OrderRec",
    "StationRec",
    "Trip",
    "UnitRec",
]
