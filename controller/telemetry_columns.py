"""Telemetry as columns: a `UnitColumns` block read into the dispatcher's records as arrays.

A large fleet host reports its drive units as one block of packed columns (docs/protocol.md,
"UnitColumns") instead of one `UnitState` each. `ColumnsIngest.apply` does what the per-unit loop of
`EventHandling._ingest` does for those units, with the same result, without touching units whose
state did not change:

- the block's rows are mapped to the dispatcher's unit indices once per set of ids (a fleet host
  sends the same ids every frame);
- rows whose pose (mode, cell, heading, pod) changed since the block applied last get every field
  written to their `UnitRec` and to the planner's arrays; rows where only the battery moved get
  that; the rest are already what the frame says;
- it declines (returns False, the caller reads the block unit by unit) whenever the per-unit loop
  would do more than copy fields: a unit reported failed, a unit marked failed (it may recover), an
  id twice in the block. Those are rare, and the per-unit loop handles them in frame order.

Only `EventHandling._ingest` writes a unit's reported fields, so what this path remembers of the
last block stays true until the per-unit loop runs (which forgets it: `forget`).
"""

from __future__ import annotations

import numpy as np

from fctwin.controller.records import MODE_FAILED, MODE_SERVING
from fctwin.robots.messages import UnitColumns

_POSE_COLUMNS = ("mode", "row", "col", "heading", "pod_id")


class ColumnsIngest:
    """What the dispatcher remembers between columnar frames (see the module docstring)."""

    def __init__(self) -> None:
        self._ids = ""  # the unit_ids string the maps below were built for
        self._perm: np.ndarray = np.zeros(0, dtype=np.int64)  # row -> unit index, -1: not a unit
        self._unit_rows: np.ndarray = np.zeros(0, dtype=np.int64)  # rows that are units
        self._unit_index: np.ndarray = np.zeros(0, dtype=np.int64)  # their unit indices
        self._station_rows: list[tuple[int, int]] = []  # (row, station index)
        self._distinct = True  # no unit twice in the block
        self._prev: dict[str, np.ndarray] | None = None  # the columns last applied, for _unit_rows
        self.frames = 0  # blocks applied here
        self.rows_written = 0  # unit rows whose pose was written (the rest were unchanged)

    def forget(self) -> None:
        """The per-unit loop wrote unit fields: the next block is applied in full."""
        self._prev = None

    def _map(self, d, cols: UnitColumns) -> None:
        if cols.unit_ids == self._ids:
            return
        index, station_index = d.unit_index, d.station_index
        perm = []
        stations = []
        for k, uid in enumerate(cols.ids()):
            i = index.get(uid)
            if i is None:
                s = station_index.get(uid)
                if s is not None:
                    stations.append((k, s))
                i = -1
            perm.append(i)
        self._perm = np.array(perm, dtype=np.int64)
        self._unit_rows = np.flatnonzero(self._perm >= 0)
        self._unit_index = self._perm[self._unit_rows]
        self._distinct = len(np.unique(self._unit_index)) == len(self._unit_index)
        self._station_rows = stations
        self._ids = cols.unit_ids
        self._prev = None

    def apply(self, d, cols: UnitColumns) -> bool:
        """Write the block into dispatcher ``d``'s unit records and arrays; False: not done (see above)."""
        self._map(d, cols)
        a = cols.arrays()
        rows = self._unit_rows
        mode = a["mode"][rows]
        if not self._distinct or d.failed_units or (mode == MODE_FAILED).any():
            return False
        if self._station_rows:
            all_modes = a["mode"].tolist()
            stations = d.stations
            for k, s in self._station_rows:
                stations[s].busy = all_modes[k] == MODE_SERVING
        cur = {name: a[name][rows] for name in (*_POSE_COLUMNS, "battery_frac")}
        prev = self._prev
        if prev is None:
            pose = np.ones(len(rows), dtype=bool)
            battery = pose
        else:
            pose = cur["mode"] != prev["mode"]
            for name in _POSE_COLUMNS[1:]:
                pose |= cur[name] != prev[name]
            battery = cur["battery_frac"] != prev["battery_frac"]
        self._prev = cur
        units = d.units
        changed = np.flatnonzero(pose)
        self.frames += 1
        self.rows_written += len(changed)
        if len(changed):
            idx = self._unit_index[changed]
            r, c, h, p = (
                cur["row"][changed],
                cur["col"][changed],
                cur["heading"][changed],
                cur["pod_id"][changed],
            )
            for i, row, col, head, m, pod, b in zip(
                idx.tolist(),
                r.tolist(),
                c.tolist(),
                h.tolist(),
                cur["mode"][changed].tolist(),
                p.tolist(),
                cur["battery_frac"][changed].tolist(),
                strict=True,
            ):
                u = units[i]
                u.row, u.col, u.cell, u.heading, u.mode, u.pod, u.battery_frac = (
                    row,
                    col,
                    (row, col),
                    head,
                    m,
                    pod,
                    b,
                )
            d.pos[idx, 0] = r
            d.pos[idx, 1] = c
            d.heading[idx] = h
            d.loaded[idx] = p >= 0
        only_battery = np.flatnonzero(battery & ~pose)
        if len(only_battery):
            for i, b in zip(
                self._unit_index[only_battery].tolist(),
                cur["battery_frac"][only_battery].tolist(),
                strict=True,
            ):
                units[i].battery_frac = b
        return True
