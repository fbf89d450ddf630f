"""What the run counts from the dispatcher and the telemetry, tick by tick, for the KPIs."""

from __future__ import annotations

import numpy as np

from fctwin.controller.dispatcher import Dispatcher
from fctwin.robots.messages import TelemetryFrame, UnitMode, UnitState
from fctwin.sim.scene import Scene

_MODE_SERVING = int(UnitMode.SERVING)  # a plain int: IntEnum comparisons cost more per unit and tick


class Tracker:
    """KPI accumulation from telemetry (station busy time, unit distance, queues, poses, collisions)."""

    def __init__(self, scene: Scene):
        self.station_kind = {s.station_id: s.kind for s in scene.stations}
        # Per station type (human, vulcan, ...): counted from "done" events, never per tick.
        self.station_type = {s.station_id: s.unit for s in scene.stations}
        self.by_type = {t: {"lines": 0, "units": 0, "to_person": 0} for t in self.station_type.values()}
        # Per station group (unit type, line kind), per minute: the kpi_station_minute rows.
        self.group_of = {s.station_id: (s.unit, s.kind) for s in scene.stations}
        self.groups: dict[tuple[str, str], int] = {}
        for key in self.group_of.values():
            self.groups[key] = self.groups.get(key, 0) + 1
        self.group_units_total = dict.fromkeys(self.groups, 0)
        self.group_minute = {
            k: {"lines": 0, "units": 0, "to_person": 0, "busy": 0, "queue": 0} for k in self.groups
        }
        self._station_group: list | None = None  # the dispatcher's station order, read on first tick
        self.unit_ids = {u.unit_id for u in scene.units}
        self.unit_index = {u.unit_id: k for k, u in enumerate(scene.units)}
        self.busy_ticks = {"pick": 0, "stow": 0}
        self.ticks = 0
        self.queue_sum = 0
        self.unit_busy = 0
        self.distance_cells = 0
        self.collisions = 0
        # The last reported state of each drive unit, in scene order (None until first reported):
        # kept as received, since building (row, col) and pose tuples for every unit every tick cost
        # more than reading them back when a minute ends or poses are recorded.
        self._last: list[UnitState | None] = [None] * len(scene.units)
        self._n_seen = 0
        self._cells_changed = True  # recount shared cells only when some unit moved
        self._shared = 0
        self._cols: _LastPoses | None = None  # set by the first frame with a `UnitColumns` block

    def reset_minute(self):
        self.group_minute = {
            k: {"lines": 0, "units": 0, "to_person": 0, "busy": 0, "queue": 0} for k in self.groups
        }
        self.busy_ticks = {"pick": 0, "stow": 0}
        self.ticks = 0
        self.queue_sum = 0
        self.unit_busy = 0

    def observe_dispatcher(self, dispatcher: Dispatcher) -> None:
        """What the dispatcher holds at the start of a tick (before it decides)."""
        self.ticks += 1
        self.queue_sum += sum(len(s.queue) for s in dispatcher.stations if s.kind == "pick")
        if self._station_group is None:
            self._station_group = [self.group_of.get(s.station_id) for s in dispatcher.stations]
        gm = self.group_minute
        for key, s in zip(self._station_group, dispatcher.stations, strict=True):
            if s.queue and key is not None:
                gm[key]["queue"] += len(s.queue)
        self.unit_busy += dispatcher.busy_units()

    def observe_served(self, unit_id: str, data: dict) -> None:
        """One station "done" (serve) event: units moved and handed to people, by station type."""
        row = self.by_type[self.station_type[unit_id]]
        row["lines"] += 1
        row["units"] += int(data.get("units", 0))
        row["to_person"] += int(data.get("to_person", 0))
        key = self.group_of[unit_id]
        g = self.group_minute[key]
        g["lines"] += 1
        g["units"] += int(data.get("units", 0))
        g["to_person"] += int(data.get("to_person", 0))
        self.group_units_total[key] += int(data.get("units", 0))

    def poses(self) -> np.ndarray:
        """int16[N, 4]: (row, col, heading, pod) of each drive unit in scene order (-1 before seen)."""
        if self._cols is not None:
            return np.where(self._cols.seen[:, None], self._cols.pose, -1).astype(np.int16)
        rows = [(-1, -1, -1, -1) if s is None else (s.row, s.col, s.heading, s.pod_id) for s in self._last]
        return np.array(rows, dtype=np.int16)

    def observe_frame(self, frame: TelemetryFrame) -> None:
        """What the fleet reported: station busy time, distance driven, poses, collisions."""
        cols = frame.columns
        if cols is not None or self._cols is not None:
            self._observe_arrays(frame)
            return
        index = self.unit_index
        last = self._last
        moved = 0
        for st in frame.units:
            k = index.get(st.unit_id)
            if k is None:
                self._note_station(st)
                continue
            prev = last[k]
            if prev is None:
                self._n_seen += 1
            elif prev.row != st.row or prev.col != st.col:
                moved += abs(prev.row - st.row) + abs(prev.col - st.col)
                self._cells_changed = True
            last[k] = st
        self.distance_cells += moved
        # Independent of the fleet host's own safety layer: two units in one cell is a collision.
        if self._cells_changed:
            self._cells_changed = False
            cells = [(s.row, s.col) for s in last if s is not None]
            self._shared = len(cells) - len(set(cells))
        self.collisions += self._shared

    def _note_station(self, st: UnitState) -> None:
        """A station's state this tick: a tick of busy time for its kind and group when serving."""
        kind = self.station_kind.get(st.unit_id)
        if kind is not None and st.mode == _MODE_SERVING:
            self.busy_ticks[kind] += 1
            self.group_minute[self.group_of[st.unit_id]]["busy"] += 1

    def _observe_arrays(self, frame: TelemetryFrame) -> None:
        """`observe_frame` for frames whose drive units come as a `UnitColumns` block: the same counts,
        from the block's arrays (the last poses kept as arrays from the first such frame on)."""
        c = self._cols
        if c is None:
            c = self._cols = _LastPoses(self._last)
        cols = frame.columns
        if cols is not None:
            moved, changed = c.take(cols, self)
            self.distance_cells += moved
            self._cells_changed |= changed
        index = self.unit_index
        for st in frame.units:  # stations (and any drive unit reported on its own), as above
            k = index.get(st.unit_id)
            if k is None:
                self._note_station(st)
                continue
            moved, changed = c.take_one(k, st)
            if moved is None:
                self._n_seen += 1
            else:
                self.distance_cells += moved
                self._cells_changed |= changed
        if self._cells_changed:
            self._cells_changed = False
            self._shared = c.shared_cells()
        self.collisions += self._shared


class _LastPoses:
    """The last reported (row, col, heading, pod) of each drive unit, as arrays (scene order)."""

    def __init__(self, last: list[UnitState | None]) -> None:
        n = len(last)
        self.pose = np.full((n, 4), -1, dtype=np.int64)
        self.seen = np.zeros(n, dtype=bool)
        for k, s in enumerate(last):
            if s is not None:
                self.pose[k] = (s.row, s.col, s.heading, s.pod_id)
                self.seen[k] = True
        self._ids = ""
        self._rows = np.zeros(0, dtype=np.int64)  # block rows that are drive units
        self._index = np.zeros(0, dtype=np.int64)  # their scene indices
        self._stations: list[tuple[int, str]] = []  # (row, station id) of stations in the block
        self._distinct = True

    def _map(self, cols, tracker: Tracker) -> None:
        if cols.unit_ids == self._ids:
            return
        rows, index, stations = [], [], []
        for r, uid in enumerate(cols.ids()):
            k = tracker.unit_index.get(uid)
            if k is not None:
                rows.append(r)
                index.append(k)
            elif uid in tracker.station_kind:
                stations.append((r, uid))
        self._rows = np.array(rows, dtype=np.int64)
        self._index = np.array(index, dtype=np.int64)
        self._distinct = len(set(index)) == len(index)
        self._stations = stations
        self._ids = cols.unit_ids

    def take(self, cols, tracker: Tracker) -> tuple[int, bool]:
        """Read a block; returns (cells moved by units seen before, whether any such unit moved)."""
        self._map(cols, tracker)
        a = cols.arrays()
        if self._stations:
            modes = a["mode"].tolist()
            for r, sid in self._stations:
                if modes[r] == _MODE_SERVING:
                    tracker.busy_ticks[tracker.station_kind[sid]] += 1
                    tracker.group_minute[tracker.group_of[sid]]["busy"] += 1
        if not self._distinct:  # a unit twice in one block: one at a time, as the per-unit loop
            moved, changed = 0, False
            for st in cols.states():
                k = tracker.unit_index.get(st.unit_id)
                if k is None:
                    continue
                m, ch = self.take_one(k, st)
                if m is None:
                    tracker._n_seen += 1
                else:
                    moved, changed = moved + m, changed or ch
            return moved, changed
        k, rows = self._index, self._rows
        row, col = a["row"][rows].astype(np.int64), a["col"][rows].astype(np.int64)
        before = self.seen[k]
        tracker._n_seen += int(len(k) - np.count_nonzero(before))
        step = np.abs(row - self.pose[k, 0]) + np.abs(col - self.pose[k, 1])
        step[~before] = 0
        self.pose[k, 0] = row
        self.pose[k, 1] = col
        self.pose[k, 2] = a["heading"][rows]
        self.pose[k, 3] = a["pod_id"][rows]
        self.seen[k] = True
        # a change of row and column that sums to 0 cannot happen: |dr| + |dc| > 0 iff the cell moved
        return int(step.sum()), bool(step.any())

    def take_one(self, k: int, st: UnitState) -> tuple[int | None, bool]:
        """One unit's state; (None, False) if it was not seen before, else (cells moved, moved)."""
        seen = bool(self.seen[k])
        r0, c0 = int(self.pose[k, 0]), int(self.pose[k, 1])
        self.pose[k] = (st.row, st.col, st.heading, st.pod_id)
        self.seen[k] = True
        if not seen:
            return None, False
        step = abs(r0 - st.row) + abs(c0 - st.col)
        return step, step > 0

    def shared_cells(self) -> int:
        """Seen units minus distinct cells they stand on: the collision count of the per-unit loop."""
        p = self.pose[self.seen]
        keys = (p[:, 0] << 32) | (p[:, 1] & 0xFFFFFFFF)
        return int(len(keys) - len(np.unique(keys)))
