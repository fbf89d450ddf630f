"""What the dispatcher hears: telemetry and unit/station events, and what each does to its records.

`EventHandling` is one part of `Dispatcher` (a mixin over the same state): it reads the
`TelemetryFrame`, updates unit records, and reacts to done / refused / aborted / failed events by
moving trips along, re-queueing lines or releasing pods. It makes no decisions of its own.
"""

from __future__ import annotations

from fctwin.controller.records import (
    LIFTING,
    MODE_FAILED,
    MODE_SERVING,
    MODE_STOPPED,
    SETTING_DOWN,
    TO_POD,
    TO_STATION,
    TO_STORAGE,
    Trip,
    UnitRec,
)
from fctwin.robots.messages import Resume, TelemetryFrame, UnitMode

_MODES_MID_POD_OP = frozenset((int(UnitMode.LIFTING), int(UnitMode.SETTING_DOWN)))


class EventHandling:
    """Telemetry ingestion and event reactions; mixed into `Dispatcher` (uses its state)."""

    def _ingest(self, frame: TelemetryFrame, commands: list) -> None:
        cols = frame.columns
        if cols is None:
            self._ingest_states(frame.units)
        elif self._columns.apply(self, cols):
            # the block is in; `units` (the stations, as a rule) unit by unit after it, as ordered
            self._ingest_states(frame.units)
        else:
            self._ingest_states(frame.all_states())
        for ev in frame.events:
            self._on_event(ev, commands)

    def _ingest_states(self, states) -> None:
        """Per-unit telemetry: each state into its unit's record, then the planner's arrays."""
        index = self.unit_index
        units = self.units
        # plain ints: comparing against IntEnum members costs more than the rest of the loop
        failed_mode, stopped_mode = MODE_FAILED, MODE_STOPPED
        touched = False
        for st in states:
            i = index.get(st.unit_id)
            if i is None:
                s = self.station_index.get(st.unit_id)
                if s is not None:
                    self.stations[s].busy = st.mode == MODE_SERVING
                continue
            touched = True
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
        if not touched:  # no unit's fields moved (a frame of stations): the arrays hold them already
            return
        self._columns.forget()
        # A flat list of ints into a flat view: a list of (row, col) tuples into the [N, 2] array
        # cost ~3x more (numpy converts each tuple as a sequence).
        self._pos_flat[:] = [v for u in units for v in u.cell]
        self.heading[:] = [u.heading for u in units]
        self.loaded[:] = [u.pod >= 0 for u in units]

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
            elif kind == "online":
                self._unit_online(i, commands)
            if u.lost_pod >= 0 and not u.failed and u.trip is None:
                self._settle_lost_pod(i)
            return
        s = self.station_index.get(ev.unit_id)
        if s is not None and kind == "done" and ev.data.get("op") == "serve":
            trip = self._line_served(s, ev)
            if trip is not None and trip.withdrawing:
                self._face_resolved(s, trip)  # the line under way at a `Withdraw` finished
        elif s is not None and kind == "aborted":
            self._serve_aborted(s, ev, commands)
        elif s is not None and kind == "withdrawn":
            self._serve_withdrawn(s, ev, commands)

    def _lift_done(self, u: UnitRec, trip: Trip, t_s: float) -> None:
        self.book.lifted(trip.pod)
        self.pods_mask[u.cell] = False
        self.log.append((t_s, "lifted", u.unit_id, trip.trip_id, trip.pod, 0))
        if trip.kind == "move":  # re-slotting: straight to its new cell
            trip.phase = TO_STORAGE
        elif self.drained and self._withdraw_on_lift(u, trip):
            pass  # its station was drained while the pod was being lifted: back to storage
        else:
            trip.phase = TO_STATION
            self.stations[trip.station].queue.append(trip)

    def _set_down_done(self, u: UnitRec, trip: Trip, t_s: float) -> None:
        self.book.set_down(trip.pod, u.cell)
        self.pods_mask[u.cell] = True
        self.book.busy_pod.discard(trip.pod)
        self.return_targets.discard(u.cell)
        if trip.kind == "return":  # a recovered unit's pod is back in storage (`_settle_lost_pod`)
            self.log.append((t_s, "pod_returned", u.unit_id, trip.trip_id, trip.pod, 0))
            u.trip = None
            u.goal = None
            return
        self.stats["reslot_moves" if trip.kind == "move" else "trips_completed"] += 1
        self.log.append((t_s, "trip_done", u.unit_id, trip.trip_id, trip.pod, int(self.t_s - trip.created_s)))
        u.trip = None
        u.goal = None

    def _line_served(self, s: int, ev) -> Trip | None:
        """A line served at station ``s``; its trip (None if the event names no open serve)."""
        station = self.stations[s]
        trip = station.queue[0] if station.queue else None
        if trip is None or ev.command_id not in trip.open_serves:
            return None
        line = trip.open_serves.pop(ev.command_id)
        trip.served.add(id(line))
        units = int(ev.data.get("units", line.units))
        to_person = int(ev.data.get("to_person", 0))
        station.units_served += units
        station.lines_served += 1
        self.stats["units_to_person"] += to_person
        if trip.kind == "pick":
            self.book.picked(trip.pod, line.sku, units)
            self.sku_demand_open[line.sku] -= line.units
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
            self.sku_inbound[line.sku] -= line.units
            self.stats["units_stowed"] += units
            self.stats["cartons_stowed"] += 1
            self.log.append((ev.t_s, "carton_stowed", station.station_id, line.order_id, line.sku, units))
            if line.sku in self.backorders:
                self._release_backorders(line.sku)
        return trip

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
        self.book.strand(trip.pod)  # nor count its stock as there for lines
        u.trip = None
        u.goal = None

    def _unit_failed(self, i: int, reason: str) -> None:
        u = self.units[i]
        if u.failed:  # a lost robot is reported failed by its state and by an event: once is enough
            return
        u.failed = True
        self.failed_units.add(i)
        self.active[i] = False
        self.log.append((self.t_s, "unit_failed", u.unit_id, 0, 0, 0))
        trip = u.trip
        if trip is not None:
            # The trip is handed back: its lines go back to the station, to be served by another trip.
            self._cancel_trip(trip, requeue=True)
            self.log.append((self.t_s, "trip_handed_back", u.unit_id, trip.trip_id, trip.pod, trip.phase))
            if trip.phase != TO_POD:
                # The pod is on the unit, or may be (a lift or set-down under way): no other trip
                # takes it until the unit is back and says where it is.
                self.book.busy_pod.add(trip.pod)
                self.book.strand(trip.pod)  # lines for its stock wait as backorders (stock.py)
                u.lost_pod = trip.pod
                u.lost_station = trip.station
            u.trip = None
        if u.charging_at is not None:
            self.charge_targets.discard(u.charging_at)
            u.charging_at = None
        u.goal = None

    def unit_recovered(self, unit_id: str) -> None:
        """A failed unit is back (re-registered); it resumes work from where it reports.

        A pod it had when it was lost is settled from what it reports now (`_settle_lost_pod`):
        carried, the unit takes it back to storage; on the floor, the pod is free again.
        """
        i = self.unit_index[unit_id]
        u = self.units[i]
        u.failed = False
        self.failed_units.discard(i)
        self.active[i] = True
        self.log.append((self.t_s, "unit_recovered", unit_id, 0, 0, 0))
        if u.lost_pod >= 0:
            self._settle_lost_pod(i)

    def _unit_online(self, i: int, commands: list) -> None:
        """The unit's controller registered again after it was lost (the link says so)."""
        u = self.units[i]
        if u.failed and u.mode != MODE_FAILED:
            self.unit_recovered(u.unit_id)
        if u.mode == MODE_STOPPED and not u.failed:
            # Its watchdog stopped it while it was lost; only `Resume` lets it move again (it may
            # also send `aborted`, answered the same way: a second resume is harmless).
            commands.append(Resume(self._cid(), u.unit_id))

    def _settle_lost_pod(self, i: int) -> None:
        """Where is the pod of the trip a lost unit was on? Decided once the unit, back, is not
        in the middle of a lift or set-down (else at the event that ends it)."""
        u = self.units[i]
        if u.mode in _MODES_MID_POD_OP:
            return
        pod, station = u.lost_pod, u.lost_station
        u.lost_pod = u.lost_station = -1
        book = self.book
        if u.pod == pod or u.pod < 0:  # the pod is found: its stock serves lines again
            book.unstrand(pod)
            for sku in list(book.contents[pod]):
                self._release_backorders(sku)  # (nothing to do for a SKU nobody waits for)
        if u.pod == pod:
            if book.pod_cell[pod] is not None:  # it lifted the pod while it was lost
                self.pods_mask[book.pod_cell[pod]] = False
                book.lifted(pod)
            # Back to storage on a trip of its own (no lines: they went back to the station).
            trip = Trip(self.next_trip_id, "return", pod, station, [], self.t_s, unit=i, phase=TO_STORAGE)
            self.next_trip_id += 1
            u.trip = trip
            u.park = None
            self.log.append((self.t_s, "pod_return", u.unit_id, trip.trip_id, pod, 0))
        elif u.pod < 0:
            if book.pod_cell[pod] is None:  # it set the pod down while it was lost, where it stands
                book.set_down(pod, u.cell)
                self.pods_mask[u.cell] = True
            book.busy_pod.discard(pod)
        else:  # carrying another pod: nothing to go by; that pod stays out of use
            self.log.append((self.t_s, "pod_unknown", u.unit_id, pod, u.pod, 0))

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
                if ln.sku in self.backorders and not requeue:
                    self._release_backorders(ln.sku)
            else:
                self.book.unpromise_stow(trip.pod, ln.sku, ln.units)
            if requeue:
                station.pending.appendleft(ln)
        trip.open_serves.clear()
        if trip.phase in (TO_POD, LIFTING):
            self.book.busy_pod.discard(trip.pod)
        if trip.return_cell is not None:
            self.return_targets.discard(trip.return_cell)
