"""Where the dispatcher asks its policies, and applies their answers.

`Decisions` is one part of `Dispatcher` (a mixin over the same state). Each method asks one
policy family (`fctwin.controller.policies`) and then does the bookkeeping itself: reserving
stock, marking pods busy, booking cells, logging. Policies only choose.
"""

from __future__ import annotations

from collections import deque

from fctwin.controller.policies.pod_selection import STOW_LINES_PER_TRIP
from fctwin.controller.records import (
    LIFTING,
    TO_STATION,
    UNUSABLE_MODES,
    Cell,
    Line,
    StationRec,
    Trip,
)


class Decisions:
    """Order assignment, trip creation, unit allocation, return cells; mixed into `Dispatcher`."""

    def _assign_orders(self) -> None:
        if not self.backlog:
            return
        picks = [i for i, s in enumerate(self.stations) if s.kind == "pick" and s.associates > 0]
        if not picks:
            return
        cap = self.config.max_lines_per_station
        # open lines per station, counted once and kept up to date as orders are assigned (the
        # backlog is never empty on a busy floor, so this ran every tick for every station)
        open_lines = self._open_lines_all()
        station_for = self.policies.order_assignment.station_for
        sku_free = self.book.sku_free
        while self.backlog:
            oid = self.backlog[0]
            rec = self.orders[oid]
            idx = station_for(self, rec, picks, open_lines)
            if idx is None or open_lines[idx] >= cap:
                break
            self.backlog.popleft()
            rec.station = idx
            station = self.stations[idx]
            station.open_orders.add(oid)
            # A line with no free unit anywhere waits as a backorder (fctwin.controller.stock) and
            # takes none of the station's places; it joins the station when stock arrives.
            short = []
            for ln in rec.order.lines:
                line = Line(oid, ln.sku, ln.units, rec.order.t_s)
                if sku_free(ln.sku) >= ln.units:
                    station.pending.append(line)
                    open_lines[idx] += 1
                else:
                    short.append(line)
            self.log.append((self.t_s, "order_assigned", station.station_id, oid, 0, 0))
            for line in short:
                self._backorder(idx, line)

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
            if t.kind != "move":
                in_flight[t.station] += 1
        for u in self.units:
            trip = u.trip
            if trip is not None and trip.phase <= LIFTING and trip.kind != "move":
                in_flight[trip.station] += 1
        drained = self.drained
        for idx, station in enumerate(self.stations):
            if idx in drained:
                continue  # closed past the hold: its lines wait for it to reopen (controller/closures.py)
            while station.pending and in_flight[idx] < max_trips:
                trip = self._pick_trip(idx) if station.kind == "pick" else self._stow_trip(idx)
                if trip is None:
                    if station.kind == "pick":
                        # No pod for any pending line: those no pod can serve at all become
                        # backorders, so they stop holding the station's places.
                        self._backorder_unservable(idx)
                    break
                in_flight[idx] += 1
                self.trips.append(trip)
                self.log.append(
                    (self.t_s, "trip_created", station.station_id, trip.trip_id, trip.pod, len(trip.lines))
                )

    def _pick_trip(self, idx: int) -> Trip | None:
        """A pick trip for station ``idx``: the policy's pod with every pending line it can serve."""
        pod = self.policies.pod_selection.pick_pod(self, idx)
        if pod is None:
            return None
        station = self.stations[idx]
        book = self.book
        lines = []
        keep = deque()
        for ln in station.pending:
            if book.available(pod, ln.sku) >= ln.units:
                book.reserve(pod, ln.sku, ln.units)
                lines.append(ln)
            else:
                keep.append(ln)
        if not lines:  # a policy answer that serves nothing: no trip (the default never gives one)
            return None
        station.pending = keep
        return self._new_trip("pick", pod, idx, lines)

    def _stow_trip(self, idx: int) -> Trip | None:
        """A stow trip for station ``idx``: the policy's pod with the cartons it has room for."""
        pod = self.policies.pod_selection.stow_pod(self, idx)
        if pod is None:
            return None
        station = self.stations[idx]
        book = self.book
        lines = []
        keep = deque()
        for ln in station.pending:
            if len(lines) < STOW_LINES_PER_TRIP and book.room_for(pod, ln.sku, ln.units):
                book.promise_stow(pod, ln.sku, ln.units)
                lines.append(ln)
            else:
                keep.append(ln)
        if not lines:
            return None
        station.pending = keep
        return self._new_trip("stow", pod, idx, lines)

    def _make_reslot_moves(self) -> None:
        """Re-slotting: pod moves the pod-storage policy asks idle units to make (its optional
        ``reslot_moves(d)``: ``[(pod, storage cell), ...]``). A move trip lifts the pod and sets it
        down on the cell, visiting no station; it waits for a unit like any trip."""
        moves_for = getattr(self.policies.pod_storage, "reslot_moves", None)
        if moves_for is None:
            return
        book = self.book
        for pod, cell in moves_for(self):
            here = book.pod_cell[pod]
            if (
                pod in book.busy_pod
                or here is None
                or not self.storage_mask[cell]
                or self.pods_mask[cell]
                or cell in self.return_targets
                or cell in self.blocked_cells
            ):
                continue  # a stale answer: skip it rather than break the book
            # the nominal station: the one nearest the target (the move never visits it)
            idx = min(
                range(len(self.stations)),
                key=lambda k: (
                    abs(self.stations[k].cell[0] - cell[0]) + abs(self.stations[k].cell[1] - cell[1])
                ),
            )
            trip = self._new_trip("move", pod, idx, [])
            trip.return_cell = cell
            self.return_targets.add(cell)
            self.trips.append(trip)
            self.log.append((self.t_s, "reslot_move", "", trip.trip_id, pod, self._storage_slot[cell]))

    def _new_trip(self, kind: str, pod: int, idx: int, lines: list[Line]) -> Trip:
        self.book.busy_pod.add(pod)
        trip = Trip(self.next_trip_id, kind, pod, idx, lines, self.t_s)
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
            and u.lost_pod < 0  # back from a loss mid-lift: its pod is settled first (events.py)
            and u.mode not in UNUSABLE_MODES
            and u.battery_frac > low[i]
        ]
        if not idle:
            return
        trips = list(self.trips)
        if self.stow_unit_cap is not None:  # the drive-unit split lever
            room = self.stow_unit_cap - sum(
                1 for u in self.units if u.trip is not None and u.trip.kind == "stow"
            )
            stow = [t for t in trips if t.kind == "stow"]
            if len(stow) > max(room, 0):
                drop = {id(t) for t in stow[max(room, 0) :]}
                trips = [t for t in trips if id(t) not in drop]
        for trip, i in self.policies.unit_allocation.allocate(self, trips, idle):
            u = self.units[i]
            u.trip = trip
            u.park = None
            trip.unit = i
            self.trips.remove(trip)
            self.log.append((self.t_s, "trip_assigned", u.unit_id, trip.trip_id, trip.pod, 0))

    def _order_queues(self) -> dict[int, tuple[int, int, Trip]]:
        """Let the unit-allocation policy order every queue of two or more trips; return the queue's
        waiting units (`_queue_waiters`: unit index -> (station index, position, trip))."""
        order_queue = self.policies.unit_allocation.order_queue
        for station in self.stations:
            if len(station.queue) >= 2:
                order_queue(self, station)
        return self._queue_waiters()

    def _queue_waiters(self) -> dict[int, tuple[int, int, Trip]]:
        """Units whose only work this tick is to take their queue position's cell: unit index ->
        (station index, position in the queue now, trip), for to_station trips third or further
        back (`TripExecution._advance` sets their goals after its loop)."""
        waiting: dict[int, tuple[int, int, Trip]] = {}
        for idx, station in enumerate(self.stations):
            queue = station.queue
            for pos in range(2, len(queue)):
                trip = queue[pos]
                if trip.phase == TO_STATION:
                    waiting[trip.unit] = (idx, pos, trip)
        return waiting

    def _return_cell(self, trip: Trip, station: StationRec, avoid: Cell | None = None) -> Cell | None:
        """The storage cell ``trip``'s pod goes back to (booked in ``return_targets``), or None."""
        cell = self.policies.pod_storage.storage_cell(self, trip, station, avoid)
        if cell is not None:
            self.return_targets.add(cell)
        return cell
