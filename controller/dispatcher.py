"""The dispatcher agent: orders -> station assignment -> pod trips -> unit allocation -> plans -> commands.

One call per lockstep tick: `Dispatcher.tick(frame)` reads a `TelemetryFrame` (what every unit
reports) and returns the `CommandBatch` for that step. Orders and inbound cartons arrive through
`submit_order` / `submit_carton`. Everything the dispatcher decides is appended to `log` as plain
records for the run store.

Policies (RAWSim-O vocabulary; Merschformann et al. 2019 found order-to-station assignment the rule
that matters most):
- order assignment: least-loaded pick station with room (open lines below a cap);
- pod selection: the pod covering the most open lines of the station (ties: nearest);
- pile-on: a pod at a station also serves lines that arrived after it was chosen;
- unit allocation: the idle unit parked under that pod, else the nearest idle unit with charge;
- pod storage: the nearest free storage cell to the station (or the pod's original home);
- idle units park under stored pods, out of the aisles; low-battery units charge.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

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
    grid_bfs_distance,
)
from fctwin.controller.inventory import InventoryBook
from fctwin.controller.orders import Carton, Order
from fctwin.controller.planning import FleetArrays, GridMaps, make_planner
from fctwin.robots.messages import (
    Action,
    Charge,
    CommandBatch,
    Lift,
    Move,
    Resume,
    Serve,
    SetDown,
    TelemetryFrame,
    UnitMode,
)

Cell = tuple[int, int]  # row, col

# Trip phases
TO_POD, LIFTING, TO_STATION, AT_STATION, TO_STORAGE, SETTING_DOWN = range(6)
PHASE_NAMES = ("to_pod", "lifting", "to_station", "at_station", "to_storage", "setting_down")


NO_GOAL = (-1, -1)
# Modes in which a unit cannot take a move this step (the planner treats it as an obstacle).
_INACTIVE_MODES = frozenset(
    (UnitMode.LIFTING, UnitMode.SETTING_DOWN, UnitMode.STOPPED, UnitMode.FAILED, UnitMode.CHARGING)
)

# Steps a returning unit waits for another unit to leave its chosen storage cell before choosing another.
RETURN_RETARGET_STEPS = 8
_MODE_FAILED, _MODE_STOPPED = int(UnitMode.FAILED), int(UnitMode.STOPPED)
_MODE_SERVING, _MODE_IDLE = int(UnitMode.SERVING), int(UnitMode.IDLE)
_UNUSABLE_MODES = frozenset((UnitMode.STOPPED, UnitMode.FAILED, UnitMode.CHARGING))


@dataclass(eq=False)
class Line:
    """One order line (pick) or carton (stow) waiting at a station."""

    order_id: int  # carton id for stow lines
    sku: int
    units: int
    t_s: float


@dataclass(eq=False)
class Trip:
    trip_id: int
    kind: str  # "pick" | "stow"
    pod: int
    station: int
    lines: list[Line]
    created_s: float
    unit: int = -1
    phase: int = TO_POD
    return_cell: Cell | None = None
    return_blocked_steps: int = 0  # steps the return cell has been held by another unit
    open_serves: dict[int, Line] = field(default_factory=dict)  # command id -> line
    served: set[int] = field(default_factory=set)  # id() of lines already served


@dataclass(eq=False)
class UnitRec:
    unit_id: str
    row: int = 0
    col: int = 0
    heading: int = 0
    mode: int = 0
    pod: int = -1
    battery_frac: float = 1.0
    trip: Trip | None = None
    goal: Cell | None = None
    failed: bool = False
    charging_at: Cell | None = None
    park: Cell | None = None
    cell: Cell = (0, 0)  # (row, col), set with them from telemetry (read ~1,500 times a tick on fc_large)


@dataclass(eq=False)
class StationRec:
    station_id: str
    kind: str
    cell: Cell
    pending: deque[Line] = field(default_factory=deque)  # not yet on a trip
    queue: list[Trip] = field(default_factory=list)  # trips heading here, in arrival order
    open_orders: set[int] = field(default_factory=set)
    queue_cells: list[Cell] = field(default_factory=list)
    # (row, col) storage cells reachable loaded, nearest first (ties row-major), as plain tuples:
    # choosing a return cell walks this list, and iterating numpy rows cost ~10x more.
    storage_by_distance: list[Cell] = field(default_factory=list)
    distance: np.ndarray | None = None  # int32[H, W] BFS cells to the station for loaded units
    busy: bool = False


@dataclass(eq=False)
class OrderRec:
    order: Order
    station: int = -1
    lines_left: int = 0


class Dispatcher:
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
        if config.pod_return not in ("nearest_free", "home"):
            raise ValueError(f"pod_return must be 'nearest_free' or 'home', not {config.pod_return!r}")
        self.pod_home: list[Cell] = [(int(r), int(c)) for r, c in plan.pod_cells]
        self.units = [UnitRec(unit_id=u.unit_id) for u in plan.drive_units]
        # per-tick lookups, rebuilt by _advance: who stands where, which pods are committed, parking
        self._cell_owner: dict[Cell, int] = {}
        self._busy_cells: set[Cell] = set()
        self._park_taken: dict[Cell, int] = {}
        self.unit_index = {u.unit_id: i for i, u in enumerate(self.units)}
        self.low_battery = [float(u.low_battery_frac) for u in plan.drive_units]
        # below this a unit may go to a pad: idle ones from the opportunity level, any unit at its
        # low-battery threshold (which may be the higher of the two)
        self.charge_below = max(config.opportunity_charge_frac, max(self.low_battery, default=0.0))
        self.stations = [StationRec(s.station_id, s.kind, s.cell) for s in plan.stations]
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
            "refusals": 0,
            "planner_s": 0.0,
            "planner_steps": 0,
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
        self.planner = make_planner(config.planner)
        self.grid_maps = GridMaps(walk.copy(), self._loaded_map())
        self.planner.reset(self.grid_maps, len(self.units), seed=config.seed)
        n = len(self.units)
        self.pos = np.zeros((n, 2), dtype=np.int32)
        self.heading = np.zeros(n, dtype=np.int8)
        self.goal = np.full((n, 2), -1, dtype=np.int32)
        self.loaded = np.zeros(n, dtype=bool)
        self.active = np.ones(n, dtype=bool)
        self._pos_flat = self.pos.reshape(-1)  # views, for fast per-tick refills
        self._goal_flat = self.goal.reshape(-1)
        self.actions = np.full(n, 3, dtype=np.int8)
        self._prepare_stations()
        self.storage_cells = np.argwhere(self.storage_mask).astype(np.int32)
        self._storage_rows = self.storage_cells[:, 0].astype(np.int64)
        self._storage_cols = self.storage_cells[:, 1].astype(np.int64)
        self._storage_slot = {(int(r), int(c)): k for k, (r, c) in enumerate(self.storage_cells.tolist())}
        self.t_s = 0.0
        self.step = 0

    # ================================================================= inputs

    def submit_order(self, order: Order) -> None:
        self.orders[order.order_id] = OrderRec(order=order, lines_left=len(order.lines))
        self.backlog.append(order.order_id)
        self.log.append((order.t_s, "order_arrived", "", order.order_id, len(order.lines), 0))

    def submit_carton(self, carton: Carton, station_id: str | None = None) -> None:
        stow = [i for i, s in enumerate(self.stations) if s.kind == "stow"]
        if not stow:
            raise ValueError("no stow station to receive inbound cartons")
        if station_id is None:
            idx = min(stow, key=lambda i: (len(self.stations[i].pending) + len(self.stations[i].queue), i))
        else:
            idx = self.station_index[station_id]
        self.stations[idx].pending.append(Line(carton.carton_id, carton.sku, carton.units, carton.t_s))
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
        commands: list = []
        self._ingest(frame, commands)
        self._assign_orders()
        self._make_trips()
        self._allocate_units()
        self._advance(commands)
        self._plan(commands)
        return CommandBatch(step=frame.step, t_s=frame.t_s, commands=commands)

    # ================================================================= telemetry

    def _ingest(self, frame: TelemetryFrame, commands: list) -> None:
        index = self.unit_index
        units = self.units
        # plain ints: comparing against IntEnum members costs more than the rest of the loop
        failed_mode, stopped_mode = _MODE_FAILED, _MODE_STOPPED
        for st in frame.units:
            i = index.get(st.unit_id)
            if i is None:
                s = self.station_index.get(st.unit_id)
                if s is not None:
                    self.stations[s].busy = st.mode == _MODE_SERVING
                continue
            u = units[i]
            mode = st.mode
            row = st.row
            col = st.col
            u.row, u.col, u.cell, u.heading, u.mode, u.pod, u.battery_frac = (
                row,
                col,
                (row, col),
                st.heading,
                mode,
                st.pod_id,
                st.battery_frac,
            )
            if mode == failed_mode:
                if not u.failed:
                    self._unit_failed(i, "reported failed")
            elif u.failed and mode != stopped_mode:
                self.unit_recovered(u.unit_id)  # re-registered: resumes from where it reports
        # A flat list of ints into a flat view: a list of (row, col) tuples into the [N, 2] array
        # cost ~3x more (numpy converts each tuple as a sequence).
        self._pos_flat[:] = [v for u in units for v in u.cell]
        self.heading[:] = [u.heading for u in units]
        self.loaded[:] = [u.pod >= 0 for u in units]
        for ev in frame.events:
            self._on_event(ev, commands)

    def _on_event(self, ev, commands: list) -> None:
        kind = ev.kind
        if kind in ("ack",):
            return
        i = self.unit_index.get(ev.unit_id)
        if i is not None:
            u = self.units[i]
            op = ev.data.get("op")
            if kind == "done" and op == "lift":
                trip = u.trip
                if trip is not None and trip.phase == LIFTING:
                    self._lift_done(u, trip, ev.t_s)
            elif kind == "done" and op == "set_down":
                trip = u.trip
                if trip is not None and trip.phase == SETTING_DOWN:
                    self._set_down_done(u, trip, ev.t_s)
            elif kind == "done" and op == "charge":
                if u.charging_at is not None:
                    self.charge_targets.discard(u.charging_at)
                u.charging_at = None
                u.goal = None
            elif kind == "refused":
                self.stats["refusals"] += 1
                self.log.append((ev.t_s, "refused", u.unit_id, ev.command_id, 0, 0))
                self._on_refused(i, ev)
            elif kind == "error" and ev.data.get("reason") == "overweight":
                self._on_overweight(i, ev)
            elif kind == "failed":
                self._unit_failed(i, str(ev.data.get("reason", "")))
            elif kind == "aborted":
                self._on_aborted(i, ev, commands)
            return
        s = self.station_index.get(ev.unit_id)
        if s is not None and kind == "done" and ev.data.get("op") == "serve":
            self._line_served(s, ev)
        elif s is not None and kind == "aborted":
            self._serve_aborted(s, ev, commands)

    def _lift_done(self, u: UnitRec, trip: Trip, t_s: float) -> None:
        self.book.lifted(trip.pod)
        self.pods_mask[u.cell] = False
        trip.phase = TO_STATION
        self.stations[trip.station].queue.append(trip)
        self.log.append((t_s, "lifted", u.unit_id, trip.trip_id, trip.pod, 0))

    def _set_down_done(self, u: UnitRec, trip: Trip, t_s: float) -> None:
        self.book.set_down(trip.pod, u.cell)
        self.pods_mask[u.cell] = True
        self.book.busy_pod.discard(trip.pod)
        self.return_targets.discard(u.cell)
        self.stats["trips_completed"] += 1
        self.log.append((t_s, "trip_done", u.unit_id, trip.trip_id, trip.pod, int(self.t_s - trip.created_s)))
        u.trip = None
        u.goal = None

    def _line_served(self, s: int, ev) -> None:
        station = self.stations[s]
        trip = station.queue[0] if station.queue else None
        if trip is None or ev.command_id not in trip.open_serves:
            return
        line = trip.open_serves.pop(ev.command_id)
        trip.served.add(id(line))
        units = int(ev.data.get("units", line.units))
        to_person = int(ev.data.get("to_person", 0))
        self.stats["units_to_person"] += to_person
        if trip.kind == "pick":
            self.book.picked(trip.pod, line.sku, units)
            self.stats["units_picked"] += units
            self.stats["lines_completed"] += 1
            self.log.append((ev.t_s, "line_picked", station.station_id, line.order_id, line.sku, units))
            rec = self.orders.get(line.order_id)
            if rec is not None:
                rec.lines_left -= 1
                if rec.lines_left == 0:
                    self.stats["orders_completed"] += 1
                    cycle = ev.t_s - rec.order.t_s
                    self.cycle_times_s.append(cycle)
                    station.open_orders.discard(line.order_id)
                    self.log.append(
                        (ev.t_s, "order_done", station.station_id, line.order_id, 0, round(cycle, 3))
                    )
                    del self.orders[line.order_id]
        else:
            self.book.stowed(trip.pod, line.sku, units)
            self.stats["units_stowed"] += units
            self.stats["cartons_stowed"] += 1
            self.log.append((ev.t_s, "carton_stowed", station.station_id, line.order_id, line.sku, units))

    def _on_refused(self, i: int, ev) -> None:
        u = self.units[i]
        op = ev.data.get("op")
        trip = u.trip
        if trip is None:
            if op == "charge":
                if u.charging_at is not None:
                    self.charge_targets.discard(u.charging_at)
                u.charging_at = None
                u.goal = None
            return
        if op == "lift" and trip.phase == LIFTING:
            trip.phase = TO_POD  # retry when the unit is really on the pod's cell
        elif op in ("set_down", "setdown") and trip.phase == SETTING_DOWN:  # Titan names it setdown
            self.return_targets.discard(trip.return_cell)
            trip.return_cell = None
            trip.phase = TO_STORAGE

    def _on_aborted(self, i: int, ev, commands: list) -> None:
        """A unit stopped before finishing (its watchdog, an operator): redo the interrupted step.

        A lift or set-down that did not finish is planned again (the unit is still where it was);
        a charge releases its pad. A watchdog stop holds the unit until told otherwise: the
        dispatcher hears it again, so it sends `Resume` (before this tick's other commands).
        """
        u = self.units[i]
        trip = u.trip
        self.log.append((ev.t_s, "aborted", u.unit_id, ev.command_id, -1 if trip is None else trip.phase, 0))
        # What the unit reports (already ingested) says whether the step finished before the stop.
        if trip is not None and trip.phase == LIFTING:
            if u.pod == trip.pod:
                self._lift_done(u, trip, ev.t_s)
            else:
                trip.phase = TO_POD
        elif trip is not None and trip.phase == SETTING_DOWN:
            if u.pod < 0:
                self._set_down_done(u, trip, ev.t_s)
            else:
                self.return_targets.discard(trip.return_cell)
                trip.return_cell = None
                trip.phase = TO_STORAGE
        if u.charging_at is not None:
            self.charge_targets.discard(u.charging_at)
            u.charging_at = None
        u.goal = None
        if ev.data.get("reason") == "watchdog" and not u.failed:
            commands.append(Resume(self._cid(), u.unit_id))

    def _serve_aborted(self, s: int, ev, commands: list) -> None:
        """A station dropped a serve before finishing it: serve the line again."""
        station = self.stations[s]
        trip = station.queue[0] if station.queue else None
        if trip is None or ev.command_id not in trip.open_serves:
            return
        line = trip.open_serves.pop(ev.command_id)
        self.log.append((ev.t_s, "aborted", station.station_id, ev.command_id, trip.trip_id, 0))
        self._issue_serves(trip, station, commands, [line])

    def _on_overweight(self, i: int, ev) -> None:
        u = self.units[i]
        trip = u.trip
        if trip is None:
            return
        self.log.append((ev.t_s, "overweight", u.unit_id, trip.trip_id, trip.pod, 0))
        self._cancel_trip(trip, requeue=True)
        self.book.busy_pod.add(trip.pod)  # never select this pod again
        u.trip = None
        u.goal = None

    def _unit_failed(self, i: int, reason: str) -> None:
        u = self.units[i]
        u.failed = True
        self.active[i] = False
        self.log.append((self.t_s, "unit_failed", u.unit_id, 0, 0, 0))
        trip = u.trip
        if trip is not None:
            if trip.phase in (TO_POD, LIFTING):
                self._cancel_trip(trip, requeue=True)
            else:
                # The pod is stuck on the failed unit: its lines go back to the station.
                self._cancel_trip(trip, requeue=True)
                self.book.busy_pod.add(trip.pod)
            u.trip = None
        if u.charging_at is not None:
            self.charge_targets.discard(u.charging_at)
            u.charging_at = None
        u.goal = None

    def unit_recovered(self, unit_id: str) -> None:
        """A failed unit is back (re-registered); it resumes work from where it reports."""
        i = self.unit_index[unit_id]
        u = self.units[i]
        u.failed = False
        self.active[i] = True
        self.log.append((self.t_s, "unit_recovered", unit_id, 0, 0, 0))

    def _cancel_trip(self, trip: Trip, *, requeue: bool) -> None:
        station = self.stations[trip.station]
        if trip in station.queue:
            station.queue.remove(trip)
        if trip in self.trips:
            self.trips.remove(trip)
        for ln in trip.lines:
            if id(ln) in trip.served:
                continue
            if trip.kind == "pick":
                self.book.release(trip.pod, ln.sku, ln.units)
            else:
                self.book.unpromise_stow(trip.pod, ln.sku, ln.units)
            if requeue:
                station.pending.appendleft(ln)
        trip.open_serves.clear()
        if trip.phase in (TO_POD, LIFTING):
            self.book.busy_pod.discard(trip.pod)
        if trip.return_cell is not None:
            self.return_targets.discard(trip.return_cell)

    # ================================================================= decisions

    def _assign_orders(self) -> None:
        if not self.backlog:
            return
        picks = [i for i, s in enumerate(self.stations) if s.kind == "pick"]
        cap = self.config.max_lines_per_station
        # open lines per station, counted once and kept up to date as orders are assigned (the
        # backlog is never empty on a busy floor, so this ran every tick for every station)
        open_lines = self._open_lines_all()
        while self.backlog:
            oid = self.backlog[0]
            rec = self.orders[oid]
            if self.config.order_assignment == "round_robin":
                idx = picks[oid % len(picks)]
            else:
                idx = min(picks, key=lambda k: (open_lines[k], k))
            if open_lines[idx] >= cap:
                break
            open_lines[idx] += len(rec.order.lines)
            self.backlog.popleft()
            rec.station = idx
            station = self.stations[idx]
            station.open_orders.add(oid)
            for ln in rec.order.lines:
                station.pending.append(Line(oid, ln.sku, ln.units, rec.order.t_s))
            self.log.append((self.t_s, "order_assigned", station.station_id, oid, 0, 0))

    def _open_lines_all(self) -> list[int]:
        """Order lines waiting at, queued for, or on a trip to each station."""
        counts = [len(s.pending) + sum(len(t.lines) for t in s.queue) for s in self.stations]
        for t in self.trips:
            counts[t.station] += len(t.lines)
        return counts

    def _make_trips(self) -> None:
        max_trips = self.config.queue_cells + 2
        in_flight = [len(s.queue) for s in self.stations]
        for t in self.trips:
            in_flight[t.station] += 1
        for u in self.units:
            trip = u.trip
            if trip is not None and trip.phase <= LIFTING:
                in_flight[trip.station] += 1
        for idx, station in enumerate(self.stations):
            while station.pending and in_flight[idx] < max_trips:
                trip = self._select_pod_pick(idx) if station.kind == "pick" else self._select_pod_stow(idx)
                if trip is None:
                    break
                in_flight[idx] += 1
                self.trips.append(trip)
                self.log.append(
                    (self.t_s, "trip_created", station.station_id, trip.trip_id, trip.pod, len(trip.lines))
                )

    def _pod_distance(self, pod: int, station: StationRec) -> int:
        cell = self.book.pod_cell[pod]
        return abs(cell[0] - station.cell[0]) + abs(cell[1] - station.cell[1])

    def _select_pod_pick(self, idx: int) -> Trip | None:
        station = self.stations[idx]
        book = self.book
        score: dict[int, int] = {}
        busy, pod_cell, contents, reserved = book.busy_pod, book.pod_cell, book.contents, book.reserved
        pods_of_sku = book.pods_of_sku
        for ln in station.pending:
            sku, units = ln.sku, ln.units
            for p in pods_of_sku.get(sku, ()):
                # book.available(p, sku), inlined: this loop is the hot path of large floors.
                if (
                    p in busy
                    or pod_cell[p] is None
                    or contents[p].get(sku, 0) - reserved[p].get(sku, 0) < units
                ):
                    continue
                score[p] = score.get(p, 0) + 1
        if not score:
            return None
        top = max(score.values())
        best = min(
            (p for p, n in score.items() if n == top), key=lambda p: (self._pod_distance(p, station), p)
        )
        lines = []
        keep = deque()
        for ln in station.pending:
            if book.available(best, ln.sku) >= ln.units:
                book.reserve(best, ln.sku, ln.units)
                lines.append(ln)
            else:
                keep.append(ln)
        station.pending = keep
        book.busy_pod.add(best)
        trip = Trip(self.next_trip_id, "pick", best, idx, lines, self.t_s)
        self.next_trip_id += 1
        return trip

    def _select_pod_stow(self, idx: int) -> Trip | None:
        station = self.stations[idx]
        book = self.book
        first = station.pending[0]
        best, best_key = -1, None
        for p in range(len(book.pod_cell)):
            if p in book.busy_pod or book.pod_cell[p] is None or not book.room_for(p, first.sku, first.units):
                continue
            # Prefer pods already holding the SKU (fewer places to look later), then emptier and nearer.
            key = (
                first.sku not in book.contents[p],
                book.units_in(p) // 50,
                self._pod_distance(p, station),
                p,
            )
            if best_key is None or key < best_key:
                best, best_key = p, key
        if best < 0:
            return None
        lines = []
        keep = deque()
        for ln in station.pending:
            if len(lines) < 6 and book.room_for(best, ln.sku, ln.units):
                book.promise_stow(best, ln.sku, ln.units)
                lines.append(ln)
            else:
                keep.append(ln)
        station.pending = keep
        book.busy_pod.add(best)
        trip = Trip(self.next_trip_id, "stow", best, idx, lines, self.t_s)
        self.next_trip_id += 1
        return trip

    def _allocate_units(self) -> None:
        if not self.trips:
            return
        low = self.low_battery
        idle = [
            i
            for i, u in enumerate(self.units)
            if u.trip is None
            and u.pod < 0
            and u.charging_at is None
            and not u.failed
            and u.mode not in _UNUSABLE_MODES
            and u.battery_frac > low[i]
        ]
        if not idle:
            return
        parked_at = {self.units[i].park: i for i in idle if self.units[i].park is not None}
        here = {self.units[i].cell: i for i in idle}
        for trip in list(self.trips):
            if not idle:
                break
            cell = self.book.pod_cell[trip.pod]
            pick = here.get(cell)
            if pick is None:
                pick = parked_at.get(cell)
            if pick is None or pick not in idle:
                # Nearest idle unit (Manhattan), lowest index on ties; idle stays in ascending order.
                at = self.pos[idle]
                d = np.abs(at[:, 0] - cell[0]) + np.abs(at[:, 1] - cell[1])
                pick = idle[int(np.argmin(d))]
            idle.remove(pick)
            u = self.units[pick]
            u.trip = trip
            u.park = None
            trip.unit = pick
            self.trips.remove(trip)
            self.log.append((self.t_s, "trip_assigned", u.unit_id, trip.trip_id, trip.pod, 0))

    def _order_queues(self) -> None:
        """Serve units in the order they can reach the station, not the order they lifted pods.

        A unit still far away must not hold the station while nearer ones wait behind it; the
        trip being served stays first.
        """
        for station in self.stations:
            if len(station.queue) < 2:
                continue
            dist = station.distance
            r0, c0 = station.cell

            def key(trip: Trip, dist=dist, r0=r0, c0=c0) -> tuple:
                if trip.phase == AT_STATION:
                    return (-1, 0)
                r, c = self.units[trip.unit].cell
                d = int(dist[r, c])
                if d < 0:
                    d = abs(r - r0) + abs(c - c0) + 1000
                return (d, trip.trip_id)

            station.queue.sort(key=key)

    def _advance(self, commands: list) -> None:
        self._order_queues()
        # Per-tick lookups, built once: who stands where, which pods are committed, who parks where.
        units = self.units
        self._cell_owner = {u.cell: k for k, u in enumerate(units)}
        self._busy_cells = self.book_busy_cells()
        self._park_taken = {x.park: k for k, x in enumerate(units) if x.park is not None}
        goals: list[Cell] = []
        active: list[bool] = []
        for i, u in enumerate(units):
            if u.failed:
                goals.append(NO_GOAL)
                active.append(False)
                continue
            trip = u.trip
            if trip is not None:
                self._advance_trip(i, u, trip, commands)
            elif u.charging_at is not None:
                if u.cell == u.charging_at:
                    if u.mode != UnitMode.CHARGING and u.goal is not None:
                        commands.append(Charge(self._cid(), u.unit_id, 0.95))
                        u.goal = None  # wait for the charge to finish
                else:
                    u.goal = u.charging_at
            elif (
                u.pod < 0
                and u.battery_frac <= self.charge_below
                and (u.battery_frac <= self.low_battery[i] or u.mode == _MODE_IDLE)
                and (target := self._free_charger(i)) is not None
            ):
                u.charging_at = target
                u.park = None
                u.goal = target
                self.charge_targets.add(target)
                self.log.append((self.t_s, "to_charge", u.unit_id, 0, 0, 0))
            else:  # idle, or waiting for a free pad: out of the aisles, under a stored pod
                self._park(i, u)
            g = u.goal
            goals.append(NO_GOAL if g is None else g)
            active.append(u.mode not in _INACTIVE_MODES)
        self._goal_flat[:] = [v for g in goals for v in g]
        self.active[:] = active

    def _advance_trip(self, i: int, u: UnitRec, trip: Trip, commands: list) -> None:
        station = self.stations[trip.station]
        if trip.phase == TO_POD:
            cell = self.book.pod_cell[trip.pod]
            u.goal = cell
            if u.cell == cell and u.pod < 0:
                commands.append(Lift(self._cid(), u.unit_id, trip.pod))
                trip.phase = LIFTING
                u.goal = None
        elif trip.phase == TO_STATION:
            pos = station.queue.index(trip) if trip in station.queue else 0
            owner = self._cell_owner.get(station.cell)
            occupied_by_other = owner is not None and owner != i
            if pos == 0 and (u.cell == station.cell or not occupied_by_other):
                u.goal = station.cell
                if u.cell == station.cell:
                    trip.phase = AT_STATION
                    self.log.append((self.t_s, "at_station", u.unit_id, trip.trip_id, trip.pod, trip.station))
                    self._issue_serves(trip, station, commands, trip.lines)
            else:
                cells = station.queue_cells
                slot = pos - 1 if pos > 0 else 0
                u.goal = cells[min(slot, len(cells) - 1)] if cells else station.cell
        elif trip.phase == AT_STATION:
            u.goal = station.cell
            if not trip.open_serves:
                if trip.kind == "pick":
                    added = self._pile_on(trip, station)
                    if added:
                        self._issue_serves(trip, station, commands, added)
                        return
                station.queue.remove(trip)
                trip.phase = TO_STORAGE
                self.log.append((self.t_s, "leave_station", u.unit_id, trip.trip_id, trip.pod, trip.station))
        if trip.phase == TO_STORAGE:
            cell = trip.return_cell
            if cell is not None and u.cell != cell and self._cell_owner.get(cell, i) != i:
                # Another unit stands on our storage cell. If it is a loaded unit in a storage
                # pocket, its only way out may be through us (rotation-model PIBT cannot solve
                # that swap): after a few steps pick another cell rather than wait for ever.
                trip.return_blocked_steps += 1
                if trip.return_blocked_steps > RETURN_RETARGET_STEPS:
                    self.return_targets.discard(cell)
                    trip.return_cell = self._return_cell(trip, station, avoid=cell)
                    trip.return_blocked_steps = 0
                    if trip.return_cell is None:  # nowhere else: keep waiting for this one
                        trip.return_cell = cell
                        self.return_targets.add(cell)
            else:
                trip.return_blocked_steps = 0
            if trip.return_cell is None:
                trip.return_cell = self._return_cell(trip, station)
            u.goal = trip.return_cell
            if trip.return_cell is not None and u.cell == trip.return_cell:
                commands.append(SetDown(self._cid(), u.unit_id))
                trip.phase = SETTING_DOWN
                u.goal = None
        elif trip.phase in (LIFTING, SETTING_DOWN):
            u.goal = None
            # The unit finished but its done event never arrived (sent to a dispatcher that then
            # died; we are its restart): trust what it reports. In lockstep the done event comes
            # with the state change and was handled already, so this never fires there.
            if trip.phase == LIFTING and u.pod == trip.pod and u.mode != UnitMode.LIFTING:
                self._lift_done(u, trip, self.t_s)
            elif trip.phase == SETTING_DOWN and u.pod < 0 and u.mode != UnitMode.SETTING_DOWN:
                self._set_down_done(u, trip, self.t_s)

    def _issue_serves(self, trip: Trip, station: StationRec, commands: list, lines: list[Line]) -> None:
        for ln in lines:
            cid = self._cid()
            trip.open_serves[cid] = ln
            commands.append(
                Serve(cid, station.station_id, trip.trip_id, trip.kind, trip.pod, ln.sku, ln.units)
            )

    def _pile_on(self, trip: Trip, station: StationRec) -> list[Line]:
        """Lines assigned to the station since the pod was chosen that this pod can also serve."""
        added: list[Line] = []
        keep: deque[Line] = deque()
        for ln in station.pending:
            if self.book.available(trip.pod, ln.sku) >= ln.units:
                self.book.reserve(trip.pod, ln.sku, ln.units)
                trip.lines.append(ln)
                added.append(ln)
            else:
                keep.append(ln)
        station.pending = keep
        return added

    def _return_cell(self, trip: Trip, station: StationRec, avoid: Cell | None = None) -> Cell | None:
        # _advance (the only caller) has just indexed who stands where this tick
        occupied = self._cell_owner
        if avoid is not None:
            occupied = {**occupied, avoid: -1}
        parked = {u.park for u in self.units if u.park is not None}

        def free(cell: Cell) -> bool:
            return not (
                self.pods_mask[cell]
                or cell in self.return_targets
                or cell in occupied
                or cell in parked
                or cell in self.blocked_cells
            )

        # "home": the pod's own storage cell when free (fixed slotting), else the nearest free one.
        home = self.pod_home[trip.pod] if self.config.pod_return == "home" else None
        if home is not None and free(home):
            self.return_targets.add(home)
            return home
        for cell in station.storage_by_distance:
            if free(cell):
                self.return_targets.add(cell)
                return cell
        return None

    def _free_charger(self, i: int) -> Cell | None:
        best, best_d = None, None
        owner = self._cell_owner  # this tick's positions (_advance is the caller)
        for cell in self.plan.charge_cells:
            if cell in self.charge_targets or owner.get(cell, i) != i:
                continue
            d = abs(cell[0] - self.pos[i, 0]) + abs(cell[1] - self.pos[i, 1])
            if best_d is None or d < best_d:
                best, best_d = cell, d
        return best

    def _park(self, i: int, u: UnitRec) -> None:
        """Idle units wait under a stored pod, out of the aisles and away from other targets."""
        busy = self._busy_cells
        taken = self._park_taken
        if u.park is not None and self.pods_mask[u.park] and u.park not in busy:
            u.goal = u.park
            return
        if self.pods_mask[u.cell] and taken.get(u.cell, i) == i and u.cell not in busy:
            u.park = u.cell
            u.goal = u.cell
            taken[u.cell] = i
            return
        best = self._nearest_free_pod_cell(int(self.pos[i, 0]), int(self.pos[i, 1]), taken, busy)
        u.park = best
        u.goal = best

    def _nearest_free_pod_cell(self, r0: int, c0: int, taken, busy) -> Cell | None:
        """Nearest (Manhattan) storage cell holding a pod that is neither taken nor busy.

        Ties go to the first in row-major order. Vectorised over all storage cells: a Python scan
        cost ~1 ms per idle unit on fc_large's 6,000 storage cells.
        """
        rows, cols = self._storage_rows, self._storage_cols
        ok = self.pods_mask[rows, cols]
        for cell in (*taken, *busy):
            k = self._storage_slot.get(cell)
            if k is not None:
                ok[k] = False
        if not ok.any():
            return None
        d = np.abs(rows - r0) + np.abs(cols - c0)
        d[~ok] = np.iinfo(d.dtype).max
        k = int(np.argmin(d))
        return (int(rows[k]), int(cols[k]))

    def book_busy_cells(self) -> set[Cell]:
        cells = set()
        for p in self.book.busy_pod:
            c = self.book.pod_cell[p]
            if c is not None:
                cells.add(c)
        return cells

    # ================================================================= planning

    def _loaded_map(self) -> np.ndarray:
        m = self.static_loaded | (self.storage_mask & ~self.pods_mask)
        return m

    def _plan(self, commands: list) -> None:
        gm = self.grid_maps
        # `_loaded_map` written in place: three temporaries fewer every step
        out = gm.passable_loaded
        np.invert(self.pods_mask, out=out)
        np.logical_and(self.storage_mask, out, out=out)
        np.logical_or(self.static_loaded, out, out=out)
        np.copyto(gm.passable_unloaded, self.walk_unloaded)
        for cell in self.blocked_cells:
            gm.passable_loaded[cell] = False
            gm.passable_unloaded[cell] = False
        for i, u in enumerate(self.units):
            if u.failed:  # a failed unit's cell is an obstacle for everyone else
                self.active[i] = False
            elif u.trip is not None and u.trip.phase == AT_STATION:
                # being served: hold the station cell (PIBT otherwise pushes it off for passers-by)
                self.active[i] = False
        fleet = FleetArrays(self.pos, self.heading, self.goal, self.loaded, self.active)
        t0 = time.perf_counter()
        self.planner.step(gm, fleet, self.actions)
        self.stats["planner_s"] += time.perf_counter() - t0
        self.stats["planner_steps"] += 1
        # plain ints: indexing the numpy array per unit cost more than building the Move
        units, step, wait = self.units, self.step, int(Action.W)
        for i, action in enumerate(self.actions.tolist()):
            if action != wait:
                commands.append(Move(self._cid(), units[i].unit_id, action, step))

    # ================================================================= helpers

    def _cid(self) -> int:
        cid = self.next_command_id
        self.next_command_id += 1
        return cid

    def _prepare_stations(self) -> None:
        loaded_ok = self.static_loaded | self.storage_mask
        for station in self.stations:
            dist = grid_bfs_distance(loaded_ok, [station.cell])
            station.queue_cells = self._queue_line(station.cell, dist)
            station.distance = dist
            st = np.argwhere(self.storage_mask & (dist >= 0))
            order = np.lexsort((st[:, 1], st[:, 0], dist[self.storage_mask & (dist >= 0)]))
            station.storage_by_distance = [(int(r), int(c)) for r, c in st[order].tolist()]

    def _queue_line(self, cell: Cell, dist: np.ndarray) -> list[Cell]:
        """Cells where units wait for a station, nearest first.

        A flow-through station (two or more open neighbours) queues in a straight line along the
        longest run of aisle cells from it, so a served unit leaves by another neighbour. A station
        with one entrance keeps the entrance free and queues from distance 2.
        """
        height, width = self.grid.shape
        want = max(self.config.queue_cells, 1)
        open_nb = [
            (cell[0] + dr, cell[1] + dc)
            for dr, dc in ((-1, 0), (0, 1), (1, 0), (0, -1))
            if 0 <= cell[0] + dr < height
            and 0 <= cell[1] + dc < width
            and self.static_loaded[cell[0] + dr, cell[1] + dc]
        ]
        if len(open_nb) >= 2:
            best: list[Cell] = []
            for dr, dc in ((-1, 0), (1, 0), (0, 1), (0, -1)):  # north first: units flow southwards
                run = []
                r, c = cell[0] + dr, cell[1] + dc
                while 0 <= r < height and 0 <= c < width and self.grid[r, c] == AISLE and len(run) < want:
                    run.append((r, c))
                    r, c = r + dr, c + dc
                if len(run) > len(best):
                    best = run
            if best:
                return best
        aisle = (self.grid == AISLE) & (dist >= 2)
        cand = np.argwhere(aisle)
        order = np.lexsort((cand[:, 1], cand[:, 0], dist[aisle]))
        return [tuple(map(int, cand[k])) for k in order[:want]]

    # ================================================================= views

    def queue_lengths(self) -> dict[str, int]:
        return {s.station_id: len(s.queue) for s in self.stations}

    def busy_units(self) -> int:
        return sum(1 for u in self.units if u.trip is not None)

    def open_orders(self) -> int:
        return len(self.orders)


__all__ = ["Dispatcher", "PHASE_NAMES", "DOCK", "WALL"]
