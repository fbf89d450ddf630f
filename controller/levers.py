"""The levers an operations manager (or the Eluna agent) pulls, as named dispatcher entry points.

`LeverEntryPoints` is one part of `Dispatcher` (a mixin over the same state). Each entry point
changes what the dispatcher does from the next tick on; none of them is called by the default run,
so a run without levers keeps its event log bit for bit. Physical delays (an associate walking to
another station, a station's set-up) are the caller's: `fctwin.controller.eluna.labour.LabourBoard`
calls `set_station_staff` when the people actually arrive.

- `set_station_staff`: how many associates work a person-worked station (a `Staff` command to the
  station; 0 closes it: no new orders or cartons go there, and its work not yet on a trip moves
  to the open stations).
- `note_handover`: a shift of the labour plan takes over the floor (a record in the event log only;
  the board tells the stations their new crews through `set_station_staff`).
- `set_drive_split`: the most drive units on stow trips at once (None: no cap).
- `set_charge_threshold`: idle units below this charge go to a free pad (opportunity charging).
- `set_order_release`: the rate orders leave the backlog for the pick stations, and weights steering
  them between pick stations (`fctwin.controller.release.ReleaseGate`, the order-assignment seam).
- `close_cells` / `open_cells`, `set_one_way` / `clear_one_way`: traffic rules through the planner
  (`fctwin.controller.traffic`).
- `preposition_pods`: move trips bringing the most wanted pods next to a pick station, for idle
  units (`fctwin.controller.preposition`).

Every entry point appends one record to the event log when it takes effect, and raises ValueError
(with the reason) for an infeasible request, leaving the dispatcher unchanged.
"""

from __future__ import annotations

import dataclasses

from fctwin.robots.messages import Staff


class LeverEntryPoints:
    """Lever entry points; mixed into `Dispatcher` (uses its state)."""

    def _init_levers(self) -> None:
        self.lever_commands: list = []  # sent at the start of the next tick's batch
        self.stow_unit_cap: int | None = None
        self.traffic_closed: set = set()  # cells closed by `close_cells` (also in blocked_cells)
        self.one_way: dict[int, object] = {}  # rule id -> `fctwin.controller.traffic.OneWay`
        self._next_rule = 1
        self.lever_rules_by_agent: set[int] = set()  # one-way rules the agent set (it may lift them)

    def station_open(self, idx: int) -> bool:
        return self.stations[idx].associates > 0

    def set_station_staff(
        self, station_id: str, associates: int, speed_factor: float, reopen_s: float | None = None
    ) -> None:
        """``associates`` people now work station ``station_id`` (``speed_factor`` times one person's pace).

        ``reopen_s``, on closing: when people are known to be back (run seconds; inf: nobody is
        due; None: not known, the hold alone decides when it is drained: `StationClosures`).
        Raises KeyError for an unknown station, ValueError for a negative count.
        """
        if associates < 0:
            raise ValueError(f"associates must be >= 0, got {associates}")
        idx = self.station_index[station_id]
        station = self.stations[idx]
        was_open = station.associates > 0
        station.associates = int(associates)
        self.lever_commands.append(Staff(self._cid(), station_id, int(associates), float(speed_factor)))
        self.log.append((self.t_s, "staff", station_id, int(associates), 0, round(float(speed_factor), 4)))
        if was_open and associates == 0:
            self._station_closed(idx, reopen_s)
        elif not was_open and associates > 0:
            self._station_reopened(idx)

    def note_handover(self, shift: str, shift_no: int, pool: int) -> None:
        """Shift ``shift`` (the run's ``shift_no``-th, ``pool`` associates) takes over the floor now."""
        self.log.append((self.t_s, "handover", str(shift), int(shift_no), int(pool), 0))

    def set_drive_split(self, stow_unit_cap: int | None) -> None:
        """At most ``stow_unit_cap`` drive units on stow trips at once (None: no cap)."""
        if stow_unit_cap is not None and stow_unit_cap < 0:
            raise ValueError(f"stow_unit_cap must be >= 0 or None, got {stow_unit_cap}")
        self.stow_unit_cap = stow_unit_cap
        self.log.append((self.t_s, "drive_split", "", -1 if stow_unit_cap is None else stow_unit_cap, 0, 0))

    def set_charge_threshold(self, frac: float) -> None:
        """Idle units at or below ``frac`` charge go to a free pad (never below their low-battery level)."""
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"charge threshold must be in [0, 1], got {frac}")
        self.policies.charging.threshold = max(frac, max(self.low_battery, default=0.0))
        self.log.append((self.t_s, "charge_threshold", "", 0, 0, round(frac, 4)))

    # ------------------------------------------------------------------ order release

    def set_order_release(
        self, orders_per_min: float | None = None, weights: dict[str, float] | None = None
    ) -> None:
        """Release orders to the pick stations at most at ``orders_per_min`` (None: no limit, 0:
        hold) and steer them by station ``weights`` (None: keep the current weights; {}: none)."""
        from fctwin.controller.release import ReleaseGate

        if orders_per_min is not None and not 0.0 <= orders_per_min <= 10_000.0:
            raise ValueError(f"orders_per_min must be in 0..10000 or None, got {orders_per_min}")
        for sid, w in (weights or {}).items():
            if sid not in self.station_index or self.stations[self.station_index[sid]].kind != "pick":
                raise ValueError(f"station weight for {sid!r}: not a pick station")
            if not 0.0 <= float(w) <= 100.0:
                raise ValueError(f"station weight for {sid}: {w} outside 0..100")
        gate = self.policies.order_assignment
        if not isinstance(gate, ReleaseGate):
            gate = ReleaseGate(gate)
            self.policies = dataclasses.replace(self.policies, order_assignment=gate)
        gate.configure(self, orders_per_min, weights)
        rate = -1.0 if orders_per_min is None else round(float(orders_per_min), 4)
        w = ",".join(f"{k}={v:g}" for k, v in sorted(gate.weights.items()))
        self.log.append((self.t_s, "order_release", w, len(gate.weights), 0, rate))

    # ------------------------------------------------------------------ traffic rules

    def close_cells(self, cells) -> None:
        """Close aisle or parking ``cells`` to drive units from the next step (units inside leave)."""
        from fctwin.controller.traffic import ClosureParking, closure_problem

        cells = [(int(r), int(c)) for r, c in cells]
        why = closure_problem(self, cells)
        if why is not None:
            raise ValueError(why)
        if not isinstance(self.policies.parking, ClosureParking):
            self.policies = dataclasses.replace(self.policies, parking=ClosureParking(self.policies.parking))
        for cell in sorted(set(cells)):
            if cell not in self.blocked_cells:
                self.traffic_closed.add(cell)
                self.blocked_cells.add(cell)
                self.log.append((self.t_s, "cell_closed", "", cell[0], cell[1], 0))

    def open_cells(self, cells) -> None:
        """Reopen cells closed by `close_cells` (others stay as they are)."""
        for r, c in cells:
            cell = (int(r), int(c))
            if cell in self.traffic_closed:
                self.traffic_closed.discard(cell)
                self.blocked_cells.discard(cell)
                self.log.append((self.t_s, "cell_opened", "", cell[0], cell[1], 0))

    def set_one_way(self, rule) -> int:
        """Make ``rule`` (`fctwin.controller.traffic.OneWay`) one-way through the planner's guidance;
        returns the rule's id (for `clear_one_way`)."""
        from fctwin.controller.traffic import one_way_problem

        why = one_way_problem(self, rule)
        if why is not None:
            raise ValueError(why)
        rid = self._next_rule
        self._next_rule += 1
        self.one_way[rid] = rule
        self._apply_guidance()
        (r0, c0), (r1, c1) = rule.cells[0], rule.cells[-1]
        self.log.append((self.t_s, "one_way", rule.direction, rid, r0 * 100_000 + c0, r1 * 100_000 + c1))
        return rid

    def clear_one_way(self, rid: int) -> None:
        if self.one_way.pop(rid, None) is not None:
            self._apply_guidance()
            self.log.append((self.t_s, "one_way_cleared", "", rid, 0, 0))

    def _apply_guidance(self) -> None:
        from fctwin.controller.traffic import one_way_overlay

        self.planner.set_move_cost_overlay(one_way_overlay(self.grid.shape, list(self.one_way.values())))

    # ------------------------------------------------------------------ pre-positioning

    def preposition_pods(self, station_id: str, n: int, sku_share=None) -> int:
        """Bring up to ``n`` of the most wanted pods next to pick station ``station_id`` (move trips
        for idle units); returns how many moves were made."""
        from fctwin.controller.preposition import choose_moves, preposition_problem

        why = preposition_problem(self, station_id, n)
        if why is not None:
            raise ValueError(why)
        moves = choose_moves(self, station_id, n, sku_share)
        idx = self.station_index[station_id]
        for pod, cell in moves:
            trip = self._new_trip("move", pod, idx, [])
            trip.return_cell = cell
            self.return_targets.add(cell)
            self.trips.append(trip)
            self.log.append(
                (self.t_s, "preposition", station_id, trip.trip_id, pod, self._storage_slot[cell])
            )
        return len(moves)

    def _move_work_from(self, idx: int) -> None:
        """A station closed: its orders with no line on a trip go back to the backlog (front, in
        arrival order); its cartons go to the open stow station with the least work."""
        station = self.stations[idx]
        for trip in [t for t in self.trips if t.station == idx]:
            self._cancel_trip(trip, requeue=True)
        if station.kind == "pick":
            on_trip = {ln.order_id for t in station.queue for ln in t.lines}
            on_trip |= {
                ln.order_id
                for u in self.units
                if u.trip is not None and u.trip.station == idx
                for ln in u.trip.lines
            }
            # orders with a backordered line stay: the backorder returns to this station (it waits
            # for the station to reopen; fctwin.controller.stock)
            on_trip |= {
                ln.order_id for q in getattr(self, "backorders", {}).values() for k, ln in q if k == idx
            }
            movable = sorted(oid for oid in station.open_orders if oid not in on_trip)
            # An order with lines already picked here cannot start again elsewhere (all its lines
            # would be made again, and the picked ones picked twice): its tote moves, with the
            # lines still to pick, to the open pick station with the fewest open lines.
            started = [oid for oid in movable if self._order_started(oid)]
            movable = [oid for oid in movable if oid not in started]
            if started:
                self._move_started_orders(idx, started)
            keep = [ln for ln in station.pending if ln.order_id not in movable]
            station.pending.clear()
            station.pending.extend(keep)
            for oid in reversed(movable):
                station.open_orders.discard(oid)
                rec = self.orders.get(oid)
                if rec is not None:
                    rec.station = -1
                    self.backlog.appendleft(oid)
        else:
            others = [
                i for i, s in enumerate(self.stations) if s.kind == "stow" and i != idx and s.associates > 0
            ]
            if not others:
                return
            while station.pending:
                ln = station.pending.popleft()
                k = min(
                    others, key=lambda i: (len(self.stations[i].pending) + len(self.stations[i].queue), i)
                )
                self.stations[k].pending.append(ln)

    def _order_started(self, oid: int) -> bool:
        rec = self.orders.get(oid)
        return rec is not None and rec.lines_left < len(rec.order.lines)

    def _move_started_orders(self, idx: int, oids: list[int]) -> None:
        """Orders begun at closed station ``idx``: their pending lines to the open pick station with
        the fewest open lines (they stay if none is open)."""
        picks = [i for i, s in enumerate(self.stations) if s.kind == "pick" and i != idx and s.associates > 0]
        if not picks:
            return
        station = self.stations[idx]
        open_lines = self._open_lines_all()
        for oid in oids:
            k = min(picks, key=lambda i: (open_lines[i], i))
            lines = [ln for ln in station.pending if ln.order_id == oid]
            station.pending = type(station.pending)(ln for ln in station.pending if ln.order_id != oid)
            target = self.stations[k]
            target.pending.extend(lines)
            open_lines[k] += len(lines)
            station.open_orders.discard(oid)
            target.open_orders.add(oid)
            self.orders[oid].station = k
            self.log.append((self.t_s, "order_moved", target.station_id, oid, idx, len(lines)))
