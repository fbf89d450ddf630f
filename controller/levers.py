"""The levers an operations manager (or the Eluna agent) pulls, as named dispatcher entry points.

`LeverEntryPoints` is one part of `Dispatcher` (a mixin over the same state). Each entry point
changes what the dispatcher does from the next tick on; none of them is called by the default run,
so a run without levers keeps its event log bit for bit. Physical delays (an associate walking to
another station, a station's set-up) are the caller's: `fctwin.controller.eluna.labour.LabourBoard`
calls `set_station_staff` when the people actually arrive.

- `set_station_staff`: how many associates work a person-worked station (a `Staff` command to the
  station; 0 closes it: no new orders or cartons go there, and its work not yet on a trip moves
  to the open stations).
- `set_drive_split`: the most drive units on stow trips at once (None: no cap).
- `set_charge_threshold`: idle units below this charge go to a free pad (opportunity charging).
"""

from __future__ import annotations

from fctwin.robots.messages import Staff


class LeverEntryPoints:
    """Lever entry points; mixed into `Dispatcher` (uses its state)."""

    def _init_levers(self) -> None:
        self.lever_commands: list = []  # sent at the start of the next tick's batch
        self.stow_unit_cap: int | None = None

    def station_open(self, idx: int) -> bool:
        return self.stations[idx].associates > 0

    def set_station_staff(self, station_id: str, associates: int, speed_factor: float) -> None:
        """``associates`` people now work station ``station_id`` (``speed_factor`` times one person's pace).

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
            self._move_work_from(idx)

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
