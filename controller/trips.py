"""Trip execution: each tick, every unit's next goal and the lift / serve / set-down commands.

`TripExecution` is one part of `Dispatcher` (a mixin over the same state). A trip walks the phases
to_pod -> lifting -> to_station -> at_station -> to_storage -> setting_down; units without a trip
charge or park, as the charging and parking policies say.
"""

from __future__ import annotations

from collections import deque

from fctwin.controller.records import (
    AT_STATION,
    INACTIVE_MODES,
    LIFTING,
    NO_GOAL,
    RETURN_RETARGET_STEPS,
    SETTING_DOWN,
    TO_POD,
    TO_STATION,
    TO_STORAGE,
    Cell,
    Line,
    StationRec,
    Trip,
    UnitRec,
)
from fctwin.robots.messages import Charge, Lift, Serve, SetDown, UnitMode


class TripExecution:
    """Per-unit goals and trip commands; mixed into `Dispatcher` (uses its state and policies)."""

    def _advance(self, commands: list) -> None:
        # Units waiting third or further back in a station queue: their only work this tick is to
        # take their position's cell, and a trip acts only at the head of its queue. A queue loses
        # at most its one trip being served in a tick (a trip reaching the head gets its serves and
        # cannot leave in the same tick), so such a trip is at least second when its unit's turn
        # comes: its goal is set after the loop from its position and the removals made by units
        # before it, exactly as if it had been advanced in turn (~1,000 units a tick on fc_2000).
        waiting = self._order_queues()
        # Per-tick lookups, built once: who stands where, which pods are committed, who parks where.
        units = self.units
        n = len(units)
        # the last unit on a cell wins, as in a dict comprehension
        self._cell_owner = dict(zip([u.cell for u in units], range(n), strict=True))
        self._busy_cells = self.book_busy_cells()
        self._park_taken = taken = {x.park: k for k, x in enumerate(units) if x.park is not None}
        busy = self._busy_cells
        charging = self.policies.charging
        charge_below, charger_for = charging.threshold, charging.charger_for
        park = self.policies.parking.park
        self._queue_removals = removals = {}
        goals: list[Cell] = [NO_GOAL] * n
        active: list[bool] = [False] * n
        for i, u in enumerate(units):
            if u.failed:
                if i in waiting:  # (a failed unit's trip leaves its queue: never so)
                    del waiting[i]
                continue  # no goal, inactive
            w = waiting.get(i)
            if w is not None:
                if u.trip is w[2]:
                    continue  # its goal once every unit before it has been advanced (below)
                del waiting[i]  # (a queued trip is its unit's trip: never so) advanced in turn
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
                and u.battery_frac <= charge_below
                and (target := charger_for(self, i, u)) is not None
            ):
                u.charging_at = target
                u.park = None
                u.goal = target
                self.charge_targets.add(target)
                self.log.append((self.t_s, "to_charge", u.unit_id, 0, 0, 0))
            else:  # idle, or waiting for a free pad: wherever the parking policy says
                u.park = u.goal = park(self, i, u, taken, busy)
            g = u.goal
            if g is not None:
                goals[i] = g
            active[i] = u.mode not in INACTIVE_MODES
        stations = self.stations
        for i, (idx, pos, _) in waiting.items():
            # The queue position unit i would have seen in turn: one less for each trip ahead of it
            # that a unit advanced before it took out of the queue (its serving finished).
            for by, k in removals.get(idx, ()):
                if by < i and k < pos:
                    pos -= 1
            cells = stations[idx].queue_cells
            u = units[i]
            u.goal = goals[i] = cells[min(pos - 1, len(cells) - 1)] if cells else stations[idx].cell
            active[i] = u.mode not in INACTIVE_MODES
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
            try:  # one scan of the queue, not two (`in`, then `index`)
                pos = station.queue.index(trip)
            except ValueError:
                pos = 0
            owner = self._cell_owner.get(station.cell)
            occupied_by_other = owner is not None and owner != i
            if pos == 0 and (u.cell == station.cell or not occupied_by_other):
                u.goal = station.cell
                if u.cell == station.cell:
                    trip.phase = AT_STATION
                    self.log.append((self.t_s, "at_station", u.unit_id, trip.trip_id, trip.pod, trip.station))
                    self._issue_serves(trip, station, commands, trip.lines)
                    if trip.station in self.drained:  # (no trip is sent to a drained one: a guard)
                        self._withdraw_serves(trip, commands)
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
                queue = station.queue
                k = queue.index(trip)
                del queue[k]
                # `_advance` places the units waiting further back by what was taken out before them
                self._queue_removals.setdefault(trip.station, []).append((i, k))
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

    def book_busy_cells(self) -> set[Cell]:
        """Cells of the stored pods on a trip (a carried pod has no cell)."""
        pod_cell = self.book.pod_cell
        cells = {pod_cell[p] for p in self.book.busy_pod}
        cells.discard(None)
        return cells
