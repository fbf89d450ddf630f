"""Every line a station worked, with its start and end: the run store's ``station_lines`` table.

The task events say when a line ended (``line_picked``, ``carton_stowed``) but neither when it
started nor how many of its units an arm handed to a person. The console's station-type views
(Vulcan hand-offs, Blue Jay arms busy, Sequoia totes) need both, at any time of a replay, so the
run records one row per line: ``station``, ``start_s``, ``end_s``, ``units``, ``to_person``.

Times come from the fleet's telemetry: a line ends at its ``done`` event's time (the station's
``busy_until_s``); it started when the line before it ended if the station went straight on, else
at the step in which the station was first seen serving (to within one step). Lines are written
with the minute's task events and committed with them; the table is separate from ``events``, so
the event log (and its pinned hashes) does not change.
"""

from __future__ import annotations

from fctwin.robots.messages import UnitMode

__all__ = ["STATION_LINES_DDL", "StationLog"]

STATION_LINES_DDL = """
CREATE TABLE IF NOT EXISTS station_lines (
    id INTEGER PRIMARY KEY, station TEXT NOT NULL, start_s REAL NOT NULL, end_s REAL NOT NULL,
    units INTEGER NOT NULL, to_person INTEGER NOT NULL
);
"""

_SERVING = int(UnitMode.SERVING)


class StationLog:
    """Collects station lines from telemetry (`on_done`, `observe`) and writes them (`flush`)."""

    def __init__(self, station_ids: list[str], step_s: float) -> None:
        self.station_ids = list(station_ids)
        self.step_s = float(step_s)
        self._wanted = set(station_ids)
        self._pos: list[int] = []  # where each station's state sits in a frame's unit list
        self._start: dict[str, float | None] = dict.fromkeys(station_ids)
        self._last_end: dict[str, float] = dict.fromkeys(station_ids, 0.0)
        self.rows: list[tuple[str, float, float, int, int]] = []

    def on_done(self, unit_id: str, t_s: float, data: dict, frame_t_s: float) -> None:
        """A station's ``done`` (serve) event: one line finished at ``t_s``."""
        if unit_id not in self._wanted:
            return
        start = self._start[unit_id]
        if start is None:  # started and finished within one step, or straight after the line before
            start = max(self._last_end[unit_id], frame_t_s - self.step_s)
        start = min(start, t_s)
        self.rows.append((unit_id, start, t_s, int(data.get("units", 0)), int(data.get("to_person", 0))))
        self._last_end[unit_id] = t_s
        self._start[unit_id] = None

    def observe(self, frame) -> None:
        """The stations' states after a step: note when an idle station started serving."""
        units = frame.units
        pos = self._pos
        if len(pos) != len(self.station_ids) or any(
            p >= len(units) or units[p].unit_id != s for p, s in zip(pos, self.station_ids, strict=True)
        ):
            where = {u.unit_id: k for k, u in enumerate(units)}
            if not all(s in where for s in self.station_ids):
                return  # a frame without the stations (a partial frame): nothing to learn
            self._pos = pos = [where[s] for s in self.station_ids]
        t_s = frame.t_s
        starts = self._start
        for p in pos:
            st = units[p]
            if st.mode == _SERVING and starts[st.unit_id] is None:
                # straight on from the line before, or started during the step that just ran
                starts[st.unit_id] = max(self._last_end[st.unit_id], t_s - self.step_s)

    def flush(self, db) -> None:
        """Write the lines collected since the last flush (the caller commits)."""
        if self.rows:
            db.executemany(
                "INSERT INTO station_lines (station, start_s, end_s, units, to_person)"
                " VALUES (?, ?, ?, ?, ?)",
                self.rows,
            )
            self.rows = []
