"""The state digest: what the floor looks like, once per simulated minute.

`DigestBuilder.build` reads the dispatcher (and the labour board, when the scene has one) and
returns plain data (JSON-able) that the run store keeps beside the minute's KPIs. Per station:
associates, lines waiting (not yet on a trip), pods queued or on the way, open lines, units and
lines served in the minute. Floor-wide: unassigned orders and their lines, open lines, arrivals in
the minute, unit states, battery histogram, order cycle times completed in the minute, and
congestion per floor area (a 4 x 4 split of the grid): drive units standing still on the way to a
goal (at the minute, and `congestion_wait_s`: seconds units stood blocked in the minute, sampled
every `SAMPLE_S`), loaded units, and units heading into each area; the staffing changes already
known (`staff_ahead`: people walking to a station, back from a break, back from a repair, and the
plan's breaks); and the open pick lines by stock availability (`lines_by_stock`).
It reads only; it never changes the dispatcher.
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.records import NO_STATION_WORK
from fctwin.robots.messages import UnitMode

AREAS = 4  # the grid is split into AREAS x AREAS floor areas for congestion
BATTERY_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.01)
SAMPLE_S = 5.0  # seconds of run time between congestion samples
_CHARGING = int(UnitMode.CHARGING)


class DigestBuilder:
    """Builds one digest per minute; keeps the previous minute's counters for per-minute deltas."""

    def __init__(self, d):
        self.d = d
        h, w = d.grid.shape
        self._area_h = max(1, -(-h // AREAS))
        self._area_w = max(1, -(-w // AREAS))
        self._prev_served = [0] * len(d.stations)
        self._prev_lines = [0] * len(d.stations)
        self._prev_stats = {"lines_arrived": 0, "cartons_arrived": 0, "units_picked": 0, "units_stowed": 0}
        self._prev_cycles = 0
        self._prev_cells = [u.cell for u in d.units]
        # sampled congestion: every `SAMPLE_S` of run time, a unit on its way somewhere that stands
        # where it stood at the last sample was blocked for that long (a unit at full speed covers
        # several cells in that time; one lifting or serving has reached its goal)
        self._sample_cells: list | None = None
        self._sample_t_s: float | None = None
        self._wait_s = np.zeros((AREAS, AREAS), dtype=np.float64)
        self._heading = np.zeros((AREAS, AREAS), dtype=np.int64)

    def area_of(self, cell) -> tuple[int, int]:
        return (min(cell[0] // self._area_h, AREAS - 1), min(cell[1] // self._area_w, AREAS - 1))

    def sample(self, t_s: float) -> None:
        """Called every tick (cheap: it works once every `SAMPLE_S`): adds the seconds units stood
        blocked on their way, per floor area, to this minute's `congestion_wait_s`."""
        if self._sample_t_s is not None and t_s < self._sample_t_s + SAMPLE_S:
            return
        units = self.d.units
        cells = [u.cell for u in units]
        if self._sample_cells is not None and len(cells) == len(self._sample_cells):
            dt = t_s - self._sample_t_s
            for u, c, c0 in zip(units, cells, self._sample_cells, strict=True):
                if c == c0 and u.goal is not None and u.goal != c and not u.failed:
                    self._wait_s[self.area_of(c)] += dt
        self._sample_cells = cells
        self._sample_t_s = t_s

    def _take_wait_s(self) -> list | None:
        if self._sample_cells is None:  # nobody samples (no per-tick hook): not measured
            return None
        out = np.round(self._wait_s, 1).tolist()
        self._wait_s[:] = 0.0
        return out

    def build(self, t_s: float, minute: int, *, labour=None, vetoed: int = 0) -> dict:
        d = self.d
        open_lines = d._open_lines_all()
        # pods on their way to each station: trips with a unit and trips waiting for one, counted in
        # one pass (a pass over every unit per station was ~0.3 s a minute on fc_2000's 144 stations)
        # (a pod going back from a drained station or a recovered unit, "return", or moved to a new
        # cell, "move", brings the station no work: not counted, or a drained stow station showed
        # the cartons of pods leaving it as open)
        on_way_of = [0] * len(d.stations)
        for u in d.units:
            if u.trip is not None and u.trip.kind not in NO_STATION_WORK:
                on_way_of[u.trip.station] += 1
        for t in d.trips:
            if t.kind not in NO_STATION_WORK:
                on_way_of[t.station] += 1
        stations = []
        for k, s in enumerate(d.stations):
            on_way = on_way_of[k]
            stations.append(
                {
                    "id": s.station_id,
                    "kind": s.kind,
                    "associates": s.associates,
                    "pending": len(s.pending),
                    "queued_pods": len(s.queue),
                    "pods_on_way": on_way,
                    "open_lines": open_lines[k] if s.kind == "pick" else len(s.pending) + on_way,
                    "open_units": sum(ln.units for ln in s.pending),
                    "units_served": s.units_served - self._prev_served[k],
                    "lines_served": s.lines_served - self._prev_lines[k],
                    "area": list(self.area_of(s.cell)),
                }
            )
            self._prev_served[k] = s.units_served
            self._prev_lines[k] = s.lines_served
        st = d.stats
        delta = {key: st[key] - self._prev_stats[key] for key in self._prev_stats}
        self._prev_stats = {key: st[key] for key in self._prev_stats}
        cycles = d.cycle_times_s[self._prev_cycles :]
        self._prev_cycles = len(d.cycle_times_s)
        backlog_lines = sum(len(d.orders[o].order.lines) for o in d.backlog)
        states = {"idle": 0, "pick_trip": 0, "stow_trip": 0, "charging": 0, "failed": 0}
        battery = np.zeros(len(BATTERY_BINS) - 1, dtype=np.int64)
        waiting = np.zeros((AREAS, AREAS), dtype=np.int64)
        loaded = np.zeros((AREAS, AREAS), dtype=np.int64)
        heading = np.zeros((AREAS, AREAS), dtype=np.int64)
        # each unit's battery bin, as indexing with one `searchsorted` per unit did (negative wraps)
        bins = np.searchsorted(BATTERY_BINS, [u.battery_frac for u in d.units], side="right") - 1
        np.add.at(battery, bins, 1)
        for i, u in enumerate(d.units):
            if u.failed:
                states["failed"] += 1
            elif u.charging_at is not None or u.mode == _CHARGING:
                states["charging"] += 1
            elif u.trip is not None:
                states["pick_trip" if u.trip.kind == "pick" else "stow_trip"] += 1
            else:
                states["idle"] += 1
            a = (min(u.row // self._area_h, AREAS - 1), min(u.col // self._area_w, AREAS - 1))
            if u.goal is not None and u.cell != u.goal and u.cell == self._prev_cells[i]:
                waiting[a] += 1  # on its way somewhere, yet where it stood a minute ago
            if u.pod >= 0:
                loaded[a] += 1
            if u.goal is not None and u.goal != u.cell and not u.failed:
                heading[self.area_of(u.goal)] += 1  # on its way into that area
        self._prev_cells = [u.cell for u in d.units]
        return {
            "minute": minute,
            "t_s": t_s,
            "stations": stations,
            "backlog_orders": len(d.backlog),
            "backlog_lines": backlog_lines,
            "open_lines": int(sum(open_lines[k] for k, s in enumerate(d.stations) if s.kind == "pick"))
            + backlog_lines,
            "open_cartons": int(sum(x["open_lines"] for x in stations if x["kind"] == "stow")),
            "orders_open": len(d.orders),
            "lines_arrived": delta["lines_arrived"],
            "cartons_arrived": delta["cartons_arrived"],
            "units_picked": delta["units_picked"],
            "units_stowed": delta["units_stowed"],
            "cycle_mean_s": float(np.mean(cycles)) if cycles else None,
            "cycle_p95_s": float(np.percentile(cycles, 95)) if cycles else None,
            "orders_done": len(cycles),
            "unit_states": states,
            "battery_hist": battery.tolist(),
            "battery_mean": float(np.mean([u.battery_frac for u in d.units])) if d.units else None,
            "congestion_waiting": waiting.tolist(),
            "congestion_loaded": loaded.tolist(),
            "congestion_heading": heading.tolist(),
            "congestion_wait_s": self._take_wait_s(),
            "moves_vetoed": vetoed,
            "lines_by_stock": lines_by_stock(d),
            "fleet": fleet_charge(d),
            "labour": labour.snapshot() if labour is not None else None,
            "staff_ahead": staff_ahead(labour, t_s) if labour is not None else [],
        }


CHARGE_TO_FRAC = 0.95  # the dispatcher charges a unit to this fraction (controller/trips.py)


def fleet_charge(d) -> dict:
    """What the charging rules will do to the fleet, known now: the units free to take a trip
    (``usable``: not failed, not stopped, not charging nor heading to a pad, above their low-battery
    level), how many of them are idle, the units waiting for a pad (at or below their low level),
    the units charging (on or heading to a pad), the pads, the opportunity threshold and the
    low-battery level, the charge a unit is charged to, and every unit's charge by percent
    (``free_pct`` / ``charging_pct``: sparse ``[percent, units]`` rows), from which a forecaster can
    play the charging rules forward (who reaches the low level when, who leaves a pad when)."""
    low = d.low_battery
    free: dict[int, int] = {}
    charging: dict[int, int] = {}
    usable = usable_idle = waiting = on_pad = n_charging = 0
    for i, u in enumerate(d.units):
        if u.failed or u.mode == UnitMode.STOPPED:
            continue
        pct = int(min(100, max(0, round(100.0 * u.battery_frac))))
        if u.charging_at is not None or u.mode == _CHARGING:
            n_charging += 1
            on_pad += int(u.charging_at is not None and u.cell == u.charging_at)
            charging[pct] = charging.get(pct, 0) + 1
            continue
        free[pct] = free.get(pct, 0) + 1
        if u.battery_frac > low[i]:
            usable += 1
            usable_idle += int(u.trip is None and u.pod < 0)
        else:
            waiting += 1
    pol = getattr(d, "policies", None)
    thr = getattr(getattr(pol, "charging", None), "threshold", None)
    return {
        "usable": usable,
        "usable_idle": usable_idle,
        "waiting_pad": waiting,
        "charging": n_charging,
        "on_pad": on_pad,
        "pads": len(d.plan.charge_cells),
        "threshold": None if thr is None else float(thr),
        "low": float(max(low, default=0.0)),
        "charge_to": CHARGE_TO_FRAC,
        "free_pct": sorted([k, v] for k, v in free.items()),
        "charging_pct": sorted([k, v] for k, v in charging.items()),
    }


def lines_by_stock(d) -> dict[str, int]:
    """Open pick lines (arrived, not yet picked) by where their SKU's stock is now.

    - ``on_pod``: the line is on a trip (its units are reserved on a pod) or its SKU has free units
      on some pod: it can be picked as soon as a drive unit brings the pod;
    - ``at_dock``: no free unit on any pod, but cartons of the SKU wait at a stow station or ride
      to one (stock in the building, not yet stowed: minutes away);
    - ``on_order``: none in the building, but units are on a purchase order or coming from the
      inbound stream (``sku_inbound`` beyond what is at the dock: hours away);
    - ``none``: no stock anywhere and none coming (the line waits for replenishment to notice).

    Backordered lines (held by stock control, not at a station) are classified like the others
    and also counted in ``backordered``. ``total`` = on_pod + at_dock + on_order + none.
    """
    inv = d.book
    trips = {id(t): t for t in d.trips}  # every trip once: waiting for a unit, fetching, queued
    for u in d.units:
        if u.trip is not None:
            trips[id(u.trip)] = u.trip
    for s in d.stations:
        for t in s.queue:
            trips[id(t)] = t
    at_dock: dict[int, int] = {}
    for s in d.stations:
        if s.kind == "stow":
            for ln in s.pending:
                at_dock[ln.sku] = at_dock.get(ln.sku, 0) + ln.units
    for t in trips.values():
        if t.kind == "stow":
            for ln in t.lines:
                if id(ln) not in t.served:
                    at_dock[ln.sku] = at_dock.get(ln.sku, 0) + ln.units
    inbound = getattr(d, "sku_inbound", None)
    out = {"on_pod": 0, "at_dock": 0, "on_order": 0, "none": 0}

    def classify(sku: int) -> str:
        if inv.sku_free(sku) > 0:
            return "on_pod"
        dock = at_dock.get(sku, 0)
        if dock > 0:
            return "at_dock"
        if inbound is not None and inbound[sku] - dock > 0:
            return "on_order"
        return "none"

    # on a trip (fetching, on the way or queued at the station): its units are reserved on a pod
    out["on_pod"] += sum(
        1 for t in trips.values() if t.kind == "pick" for ln in t.lines if id(ln) not in t.served
    )
    for s in d.stations:
        if s.kind == "pick":
            for ln in s.pending:
                out[classify(ln.sku)] += 1
    for o in d.backlog:
        for ln in d.orders[o].order.lines:
            out[classify(ln.sku)] += 1
    backordered = 0
    for q in getattr(d, "backorders", {}).values():
        for _, ln in q:
            out[classify(ln.sku)] += 1
            backordered += 1
    out["backordered"] = backordered
    out["total"] = out["on_pod"] + out["at_dock"] + out["on_order"] + out["none"]
    return out


def staff_ahead(board, t_s: float, horizon_s: float = 3600.0) -> list[list]:
    """Changes of associates per station already known at ``t_s`` within ``horizon_s``, as sorted
    ``[due_s, station, delta]`` rows: people walking to a station (a manager's move or the walk back
    from a repair), people back from a break, a down station's people walking back once its
    outage's planned end has passed, and the plan's breaks still to come (taken, as the board does,
    from the most-staffed stations as staffed now). Unplanned events (an outage not yet begun) are
    not known and not here. Reads the labour board; never changes it."""
    from fctwin.controller.eluna.labour import POOL

    end = t_s + horizon_s
    rows: list[list] = []
    for m in [*board.moving, *board.on_break]:
        if m.station != POOL and m.due_s <= end:
            rows.append([float(m.due_s), m.station, int(m.n)])
    walk_s = board.config.walk_s
    floaters = board.floaters
    for sid, until in sorted(board.down_until.items()):
        back = min(board._sent_off.get(sid, 0), floaters)
        if back > 0 and until + walk_s <= end:
            rows.append([float(until + walk_s), sid, int(back)])
            floaters -= back
    staffed = dict(board.staffed)
    for b in board._breaks:
        if b.at_s > end:
            break
        for _ in range(b.associates):
            sid = max(staffed, key=lambda s: (staffed[s], s))
            if staffed[sid] <= 0:
                break
            staffed[sid] -= 1
            rows.append([float(b.at_s), sid, -1])
            if b.at_s + b.duration_s <= end:
                rows.append([float(b.at_s + b.duration_s), sid, 1])
    rows.extend(_handover_ahead(board, rows, end))
    rows.sort(key=lambda r: (r[0], r[1]))
    return rows


def _handover_ahead(board, rows: list[list], end_s: float) -> list[list]:
    """The next shift's crew (``[[labour.shifts]]``), when its handover lies within the horizon: each
    station goes to the next shift's plan then (a station opening from nobody after ``open_s``; a
    station down then stays at nobody), so its change is the plan less what the station will hold
    by then (staffed now plus the changes already in ``rows`` before the handover). Without it the
    forecaster carries the day crew's capacity into the night (`fctwin.controller.eluna.shifts`)."""
    shift = getattr(board, "shift", None)
    if shift is None or shift.end_s > end_s:
        return []
    at_s = shift.end_s
    plan = board.config.shifts.at(at_s).plan.staffing
    out: list[list] = []
    for sid, now in sorted(board.staffed.items()):
        held = now + sum(r[2] for r in rows if r[1] == sid and r[0] < at_s)
        new = 0 if sid in board.down_until and board.down_until[sid] > at_s else plan.get(sid, 0)
        if new == held:
            continue
        due_s = at_s + board.config.open_s if held <= 0 < new else at_s
        if due_s <= end_s:
            out.append([float(due_s), sid, int(new - held)])
    return out
