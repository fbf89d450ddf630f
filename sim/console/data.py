"""Reading a run store for the console, the report and the export: a run as numpy arrays.

`RunData.open(db)` reads what a run recorded (metadata, poses, events, KPI minutes,
recommendations) and answers the viewer's questions at any simulated time ``t_s``: where each drive
unit and pod is, what each unit is doing (`STATES`), how long each station's queue is, and where the
floor was congested. `refresh()` reads only rows added since the last read, so the same object
follows a run that is still being written (WAL mode: reading never blocks the run).

Unit states are derived from the dispatcher's task events (docs/export.md lists them): a trip's
``trip_assigned`` -> to pod, ``lifted`` -> carrying, ``at_station`` -> at station, ``leave_station``
-> carrying, ``trip_done`` -> idle; ``to_charge`` -> charging; ``unit_failed`` / ``unit_recovered``.
A unit with a pod on its back is carrying whatever the events say; external (hardware) units keep
their own colour unless failed.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fctwin.sim.runstore import KPI_COLUMNS, POSE_RAW, decode_poses

__all__ = ["STATES", "STATE_COLORS", "FloorFrame", "RunData", "find_run"]

# Drive-unit states the console colours, in code order.
STATES = ("idle", "to pod", "carrying", "at station", "charging", "failed", "external")
IDLE, TO_POD, CARRYING, AT_STATION, CHARGING, FAILED, EXTERNAL = range(len(STATES))
STATE_COLORS = np.array(
    [
        (150, 150, 150),  # idle: grey
        (40, 120, 230),  # to pod: blue
        (240, 140, 20),  # carrying: orange
        (30, 170, 60),  # at station: green
        (230, 210, 30),  # charging: yellow
        (220, 30, 30),  # failed: red
        (170, 60, 200),  # external / hardware: purple
    ],
    dtype=np.uint8,
)

# Which task event puts a unit in which state (subject = unit id).
_STATE_OF_EVENT = {
    "trip_assigned": TO_POD,
    "lifted": CARRYING,
    "at_station": AT_STATION,
    "leave_station": CARRYING,
    "trip_done": IDLE,
    "pod_returned": IDLE,  # a withdrawn or a recovered unit's pod back in storage
    "overweight": IDLE,
    "to_charge": CHARGING,
    "unit_failed": FAILED,
    "unit_recovered": IDLE,
}


@dataclass
class FloorFrame:
    """The floor at one instant, as the console draws it.

    ``unit_rc`` float32[N, 2] (row, col; NaN before a unit is seen), ``unit_heading`` int16[N]
    (quarter turns), ``unit_state`` int8[N] (index into `STATES`), ``pod_rc`` float32[P, 2],
    ``pod_carried`` bool[P], ``station_queue`` int32[S] (trips heading to or at each station),
    ``unit_loaded`` bool[N] (a pod on the unit's back).
    """

    t_s: float
    unit_rc: np.ndarray
    unit_heading: np.ndarray
    unit_state: np.ndarray
    pod_rc: np.ndarray
    pod_carried: np.ndarray
    station_queue: np.ndarray
    unit_loaded: np.ndarray
    # Live frames only: bool[S], each station serving a line now (from the fleet's telemetry). A
    # replay knows this from the recorded lines; a live run has not recorded the lines in progress.
    station_serving: np.ndarray | None = None


def find_run(ref: str | Path, runs_dir: str | Path = "runs") -> Path:
    """The run database of ``ref``: a run.sqlite path, a run folder, or a run id (or unique prefix)
    in ``runs_dir``. Raises `FileNotFoundError` or `ValueError` (ambiguous prefix) with a message."""
    p = Path(ref)
    if p.is_file():
        return p
    if (p / "run.sqlite").is_file():
        return p / "run.sqlite"
    root = Path(runs_dir)
    matches = sorted(root.glob(f"{ref}*/run.sqlite")) if root.is_dir() else []
    if not matches:
        raise FileNotFoundError(
            f"no run {str(ref)!r} (not a run database, a run folder, or a run id in {root})"
        )
    if len(matches) > 1:
        raise ValueError(f"{str(ref)!r} matches {len(matches)} runs in {root}; give more of the id")
    return matches[0]


def _floor_from_scene_text(meta: dict) -> dict:
    """Runs recorded before the ``floor`` metadata: rebuild the scene from its text and seed."""
    from fctwin.sim.scene import scene_from_dict
    from fctwin.sim.scene.loader import with_overrides

    source = str(meta.get("scene_file", "<scene>"))
    raw = with_overrides(tomllib.loads(meta["scene_text"]), source, seed=int(meta.get("seed", 0)))
    scene = scene_from_dict(raw, source=source, base_dir=Path(source).parent)
    from fctwin.sim.run.store import floor_meta

    return floor_meta(scene)


class _Grow:
    """An array that grows at its end: ``extend`` copies only the new rows (the buffer grows by half
    when full), ``view`` is what it holds. A view taken earlier keeps its length and values."""

    def __init__(self, tail: tuple, dtype) -> None:
        self._buf = np.zeros((0, *tail), dtype)
        self.n = 0

    def extend(self, rows) -> None:
        rows = np.asarray(rows, dtype=self._buf.dtype)
        need = self.n + len(rows)
        if need > len(self._buf):
            buf = np.empty((max(need, len(self._buf) * 3 // 2, 64), *self._buf.shape[1:]), self._buf.dtype)
            buf[: self.n] = self._buf[: self.n]
            self._buf = buf
        self._buf[self.n : need] = rows.reshape(len(rows), *self._buf.shape[1:])
        self.n = need

    @property
    def view(self) -> np.ndarray:
        return self._buf[: self.n]


class RunData:
    """One run store, read into arrays (see the module docstring)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.meta = self._read_meta()
        self.run_id = str(self.meta.get("run_id", self.db_path.parent.name))
        self.scene_name = str(self.meta.get("scene_name", "?"))
        self.grid = np.array(
            json.loads(self.meta["grid"]) if isinstance(self.meta["grid"], str) else self.meta["grid"],
            dtype=np.uint8,
        )
        self.unit_ids: list[str] = list(self.meta.get("unit_ids", []))
        self.unit_index = {u: k for k, u in enumerate(self.unit_ids)}
        self.step_s = float(self.meta.get("step_s", 1.0))
        self.pose_encoding = str(self.meta.get("pose_encoding", POSE_RAW))
        floor = self.meta.get("floor") or _floor_from_scene_text(self.meta)
        self.floor = floor
        self.cell_size_m = float(floor["cell_size_m"])
        self.stations: list[dict] = floor["stations"]
        self.station_ids = [s["id"] for s in self.stations]
        self.pod_home = np.array(floor["pod_home_cells"], dtype=np.int16).reshape(-1, 2)
        self.external = np.array([u in set(floor["external_units"]) for u in self.unit_ids], dtype=bool)
        self.start_hour = int(floor.get("start_hour", 0))
        n = len(self.unit_ids)
        # What was read so far, in arrays that grow at their end (`_Grow`): a live viewer re-reads the
        # store every second or so, and copying a whole 8-hour pose array at each re-read made the
        # console's cost grow with the run's length.
        self._pose_t = _Grow((), np.float64)
        self._poses = _Grow((n, 4), np.int16)
        self._ev_t = _Grow((), np.float64)
        self.ev_kind: list[str] = []
        self.ev_subject: list[str] = []
        self.ev_a: list = []
        self.ev_b: list = []
        self.ev_c: list = []
        self._kpi: dict[str, _Grow] = {c: _Grow((), np.float64) for c in KPI_COLUMNS}
        self.summary: dict = {}
        # station_lines (`fctwin.sim.run.station_log`): one row per line a station worked
        self._line_station = _Grow((), np.int64)
        self._line_start = _Grow((), np.float64)
        self._line_end = _Grow((), np.float64)
        self._line_units = _Grow((), np.int64)
        self._line_to_person = _Grow((), np.int64)
        self._last_line_id = 0
        self._last_event_id = 0
        self._last_step = -1
        self._last_minute = 0.0
        self._kpi_rows = 0
        # Derived from the events and poses, also extended with what each re-read adds (never rebuilt):
        # unit state changes (time, unit, state) and how many events they cover,
        self._st = (_Grow((), np.float64), _Grow((), np.int64), _Grow((), np.int8))
        self._st_upto = 0
        # pod set-downs (pose index, pod, cell) and how many poses they cover,
        self._drops = (_Grow((), np.int64), _Grow((), np.int64), _Grow((2,), np.int16))
        self._drops_upto = 0
        # lifted trips (station, lift time, leave time) with their row by trip id, and how many events.
        self._trips = (_Grow((), np.int64), _Grow((), np.float64), _Grow((), np.float64))
        self._trip_row: dict[int, int] = {}
        self._trip_station: dict[int, int] = {}
        self._trip_left: dict[int, float] = {}  # trips that left before they were lifted
        self._trips_upto = 0
        self.refresh()

    @classmethod
    def open(cls, ref: str | Path, runs_dir: str | Path = "runs") -> RunData:
        return cls(find_run(ref, runs_dir))

    # What was read, as arrays (views: a later re-read appends without changing them).
    pose_t = property(lambda self: self._pose_t.view, doc="float[T]: run time of each recorded pose")
    poses = property(lambda self: self._poses.view, doc="int16[T, N, 4]: row, col, heading, pod")
    ev_t = property(lambda self: self._ev_t.view, doc="float[E]: run time of each task event")
    line_station = property(lambda self: self._line_station.view)
    line_start = property(lambda self: self._line_start.view)
    line_end = property(lambda self: self._line_end.view)
    line_units = property(lambda self: self._line_units.view)
    line_to_person = property(lambda self: self._line_to_person.view)

    @property
    def kpi(self) -> dict[str, np.ndarray]:
        """The KPI minutes by column (`KPI_COLUMNS` and any other column of ``kpi_minute``)."""
        return {c: g.view for c, g in self._kpi.items()}

    # ------------------------------------------------------------------ reading

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)

    def _read_meta(self) -> dict:
        db = self._connect()
        try:
            out = {}
            for key, value in db.execute("SELECT key, value FROM meta"):
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    out[key] = value
            return out
        finally:
            db.close()

    def refresh(self) -> bool:
        """Read rows added since the last read; True when anything was new."""
        db = self._connect()
        try:
            new = False
            n = len(self.unit_ids)
            rows = db.execute(
                "SELECT step, t_s, data FROM poses WHERE step > ? ORDER BY step", (self._last_step,)
            ).fetchall()
            if rows:
                new = True
                prev = self._poses.view[-1] if self._poses.n else None
                self._poses.extend(decode_poses([r[2] for r in rows], n, self.pose_encoding, prev))
                self._pose_t.extend([r[1] for r in rows])
                self._last_step = rows[-1][0]
            rows = db.execute(
                "SELECT id, t_s, kind, subject, a, b, c FROM events WHERE id > ? ORDER BY id",
                (self._last_event_id,),
            ).fetchall()
            if rows:
                new = True
                self._last_event_id = rows[-1][0]
                self._ev_t.extend([r[1] for r in rows])
                for r in rows:
                    self.ev_kind.append(r[2])
                    self.ev_subject.append(r[3])
                    self.ev_a.append(r[4])
                    self.ev_b.append(r[5])
                    self.ev_c.append(r[6])
            new |= self._read_lines(db)
            cols = [d[0] for d in db.execute("SELECT * FROM kpi_minute LIMIT 0").description]
            rows = db.execute(
                "SELECT * FROM kpi_minute WHERE minute > ? ORDER BY minute", (self._last_minute,)
            ).fetchall()
            if rows:
                new = True
                arr = np.array(rows, dtype=float)
                for k, c in enumerate(cols):
                    if c not in self._kpi:  # a column the store has and KPI_COLUMNS does not: NaN before
                        self._kpi[c] = _Grow((), np.float64)
                        self._kpi[c].extend(np.full(self._kpi_rows, np.nan))
                    self._kpi[c].extend(arr[:, k])
                self._kpi_rows += len(rows)
                self._last_minute = float(arr[-1, cols.index("minute")])
            self.summary = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM summary")}
            return new
        finally:
            db.close()

    def _read_lines(self, db: sqlite3.Connection) -> bool:
        try:
            rows = db.execute(
                "SELECT id, station, start_s, end_s, units, to_person FROM station_lines"
                " WHERE id > ? ORDER BY id",
                (self._last_line_id,),
            ).fetchall()
        except sqlite3.OperationalError:  # runs recorded before station lines were
            return False
        if not rows:
            return False
        self._last_line_id = rows[-1][0]
        index = {sid: k for k, sid in enumerate(self.station_ids)}
        keep = [r for r in rows if r[1] in index]
        self._line_station.extend([index[r[1]] for r in keep])
        self._line_start.extend([r[2] for r in keep])
        self._line_end.extend([r[3] for r in keep])
        self._line_units.extend([r[4] for r in keep])
        self._line_to_person.extend([r[5] for r in keep])
        return True

    @property
    def has_station_lines(self) -> bool:
        return len(self.line_end) > 0

    def station_view(self, t_s: float, window_s: float = 600.0) -> list[dict]:
        """Per station at ``t_s``, from its recorded lines (lines still in progress are counted from
        the moment they are recorded, i.e. when they end):

        ``lines``, ``units``, ``to_person`` (units an arm handed to a person) so far; ``busy``: a
        line in progress; ``util``: share of the last ``window_s`` spent on lines; ``to_person_win``,
        ``units_win``, ``lines_win``: in that window. Blue Jay cells also get ``arms`` and
        ``arm_util`` (share of the window each arm worked) and ``arms_busy`` (now): a line of ``u``
        units keeps ``min(u, arms)`` arms busy for its duration (one unit per arm at a time).
        """
        n = len(self.stations)
        lo = t_s - window_s
        st, s0, s1 = self.line_station, self.line_start, self.line_end
        done = s1 <= t_s
        win = done & (s1 > lo)
        busy = (s0 <= t_s) & (s1 > t_s)
        overlap = np.clip(np.minimum(s1, t_s) - np.maximum(s0, lo), 0.0, None)
        span = max(min(window_s, t_s), 1e-9)

        def per(mask, w=None) -> np.ndarray:
            return np.bincount(st[mask], weights=None if w is None else w[mask], minlength=n)

        lines, units, handed = per(done), per(done, self.line_units), per(done, self.line_to_person)
        lines_w, units_w, handed_w = per(win), per(win, self.line_units), per(win, self.line_to_person)
        util = per(overlap > 0, overlap) / span
        out = []
        for k, s in enumerate(self.stations):
            row = {
                "id": s["id"], "kind": s["kind"], "unit": s["unit"],
                "lines": int(lines[k]), "units": int(units[k]), "to_person": int(handed[k]),
                "lines_win": int(lines_w[k]), "units_win": int(units_w[k]), "to_person_win": int(handed_w[k]),
                "busy": bool(busy[st == k].any()), "util": float(min(util[k], 1.0)),
            }  # fmt: skip
            if s["unit"] == "bluejay":
                arms = int(s.get("arms", 3))
                mine = st == k
                engaged = np.minimum(self.line_units[mine], arms)
                ov = overlap[mine]
                row["arms"] = arms
                row["arm_util"] = [float(min(ov[engaged > a].sum() / span, 1.0)) for a in range(arms)]
                now = engaged[busy[mine]]
                row["arms_busy"] = int(now.max()) if len(now) else 0
            out.append(row)
        return out

    def station_series(
        self, t_s: float | None = None
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per station type: (minutes, units per minute, units handed to people per minute), by the
        minute in which each line ended, up to ``t_s``."""
        end = self.line_end
        keep = np.ones(len(end), bool) if t_s is None else end <= t_s
        last = int(np.ceil((t_s if t_s is not None else (end.max() if len(end) else 0.0)) / 60.0))
        minute = np.minimum(np.ceil(end[keep] / 60.0).astype(np.int64), max(last, 1))
        types = list(dict.fromkeys(s["unit"] for s in self.stations))
        type_of = np.array([types.index(s["unit"]) for s in self.stations], np.int64)
        line_type = type_of[self.line_station[keep]]
        out = {}
        for k, u in enumerate(types):
            mask = line_type == k
            units = np.bincount(minute[mask], weights=self.line_units[keep][mask], minlength=last + 1)[1:]
            handed = np.bincount(minute[mask], weights=self.line_to_person[keep][mask], minlength=last + 1)[
                1:
            ]
            out[u] = (np.arange(1, last + 1, dtype=float), units, handed)
        return out

    def recommendations(self) -> list[dict]:
        """The recommendations recorded so far with their decisions (`fctwin.sim.advice`)."""
        from fctwin.sim.advice import read_recommendations

        return read_recommendations(self.db_path)

    # ------------------------------------------------------------------ time

    @property
    def t_end(self) -> float:
        ends = [0.0]
        if len(self.pose_t):
            ends.append(float(self.pose_t[-1]))
        if len(self.kpi.get("t_s", ())):
            ends.append(float(self.kpi["t_s"][-1]))
        return max(ends)

    def clock(self, t_s: float) -> str:
        """Simulated time of day ("day 1 08:42:05") for a run time in seconds."""
        total = int(self.start_hour * 3600 + t_s)
        day, rest = divmod(total, 86400)
        return f"day {day + 1} {rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"

    def step_at(self, t_s: float) -> int:
        """Index of the last recorded pose at or before ``t_s`` (-1 when none)."""
        return int(np.searchsorted(self.pose_t, t_s, side="right")) - 1

    # ------------------------------------------------------------------ derived arrays

    def _state_changes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(time, unit, state) of every unit state change in the events read so far."""
        kinds = self.ev_kind
        if self._st_upto < len(kinds):
            idx, ev_t, subj = self.unit_index, self.ev_t, self.ev_subject
            t, u, s = [], [], []
            for k in range(self._st_upto, len(kinds)):
                state = _STATE_OF_EVENT.get(kinds[k])
                if state is not None:
                    unit = idx.get(subj[k])
                    if unit is not None:
                        t.append(ev_t[k])
                        u.append(unit)
                        s.append(state)
            self._st_upto = len(kinds)
            for g, x in zip(self._st, (t, u, s), strict=True):
                g.extend(x)
        return self._st[0].view, self._st[1].view, self._st[2].view

    def unit_states(self, t_s: float, carrying: np.ndarray | None = None) -> np.ndarray:
        """int8[N]: each unit's state (`STATES`) at ``t_s``; ``carrying`` bool[N] marks loaded units."""
        t, u, s = self._state_changes()
        out = np.zeros(len(self.unit_ids), dtype=np.int8)
        k = int(np.searchsorted(t, t_s, side="right"))
        if k:
            # the last change of each unit up to k: first occurrence in the reversed prefix
            ru = u[:k][::-1]
            units, first = np.unique(ru, return_index=True)
            out[units] = s[:k][::-1][first]
        if carrying is not None:
            out[carrying & ((out == IDLE) | (out == TO_POD))] = CARRYING
        out[self.external & (out != FAILED)] = EXTERNAL
        return out

    def _pod_drops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each pod was set down: (pose index from which it stands there, pod, cell int16[K, 2])."""
        n = self._poses.n
        start = max(1, self._drops_upto)
        if n > start:
            poses = self.poses
            prev, cur = poses[start - 1 : n - 1, :, 3], poses[start:n, :, 3]
            i, k = np.nonzero((prev >= 0) & (cur != prev))
            self._drops[0].extend(i + start)
            self._drops[1].extend(prev[i, k])
            self._drops[2].extend(poses[i + start - 1, k, :2])
            self._drops_upto = n
        return self._drops[0].view, self._drops[1].view, self._drops[2].view

    def _trip_spans(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per lifted trip: station index, lift time, leave time (inf while not left)."""
        kinds = self.ev_kind
        if self._trips_upto < len(kinds):
            station_of = {sid: k for k, sid in enumerate(self.station_ids)}
            rows, station, left = self._trip_row, self._trip_station, self._trip_left
            st, lift, leave = self._trips
            ev_t, ev_a, subj = self.ev_t, self.ev_a, self.ev_subject
            for k in range(self._trips_upto, len(kinds)):
                kind = kinds[k]
                if kind == "trip_created":
                    station[ev_a[k]] = station_of.get(subj[k], -1)
                elif kind == "lifted":
                    tid = ev_a[k]
                    if station.get(tid, -1) >= 0:
                        if tid in rows:  # lifted again: the latest lift counts, as a dict would keep
                            lift.view[rows[tid]] = ev_t[k]
                        else:
                            rows[tid] = st.n
                            st.extend([station[tid]])
                            lift.extend([ev_t[k]])
                            leave.extend([left.pop(tid, np.inf)])
                elif kind in ("leave_station", "trip_done", "trip_withdrawn", "trip_handed_back"):
                    tid = ev_a[k]
                    r = rows.get(tid)
                    if r is None:
                        left.setdefault(tid, float(ev_t[k]))
                    elif leave.view[r] == np.inf:
                        leave.view[r] = ev_t[k]
            self._trips_upto = len(kinds)
        return self._trips[0].view, self._trips[1].view, self._trips[2].view

    def station_queues(self, t_s: float) -> np.ndarray:
        """int32[S]: trips with their pod lifted and not yet gone from each station at ``t_s``."""
        st, lift, leave = self._trip_spans()
        live = (lift <= t_s) & (leave > t_s)
        return np.bincount(st[live], minlength=len(self.stations)).astype(np.int32)

    def frame_at(self, t_s: float) -> FloorFrame:
        """The floor at ``t_s`` from the recorded poses (units at their last recorded pose)."""
        n, n_pods = len(self.unit_ids), len(self.pod_home)
        i = self.step_at(t_s)
        pod_rc = self.pod_home.astype(np.float32).copy()
        carried = np.zeros(n_pods, dtype=bool)
        if i < 0:
            unit_rc = np.full((n, 2), np.nan, np.float32)
            heading = np.zeros(n, np.int16)
            loaded = np.zeros(n, dtype=bool)
        else:
            pose = self.poses[i]
            unit_rc = pose[:, :2].astype(np.float32)
            unit_rc[pose[:, 0] < 0] = np.nan
            heading = pose[:, 2].copy()
            loaded = pose[:, 3] >= 0
            at, pod, cell = self._pod_drops()
            m = at <= i
            if m.any():
                rp, rc = pod[m][::-1], cell[m][::-1]
                pods, first = np.unique(rp, return_index=True)
                ok = pods < n_pods
                pod_rc[pods[ok]] = rc[first[ok]]
            on = pose[loaded, 3]
            ok = on < n_pods
            pod_rc[on[ok]] = pose[loaded, :2][ok]
            carried[on[ok]] = True
        return FloorFrame(
            t_s=float(t_s),
            unit_rc=unit_rc,
            unit_heading=heading,
            unit_state=self.unit_states(t_s, loaded),
            pod_rc=pod_rc,
            pod_carried=carried,
            station_queue=self.station_queues(t_s),
            unit_loaded=loaded,
        )

    def heat(self, t_s: float, window_s: float = 600.0) -> np.ndarray:
        """float32[H, W]: congestion over (t_s - window_s, t_s]: steps a busy unit waited in a cell
        (same cell as at the pose recorded before, while going to a pod or carrying; counted in steps
        when poses were recorded every few steps) plus moves vetoed there."""
        h, w = self.grid.shape
        out = np.zeros((h, w), np.float32)
        if len(self.pose_t) < 2:
            return out
        i0 = max(1, int(np.searchsorted(self.pose_t, t_s - window_s, side="right")))
        i1 = self.step_at(t_s) + 1
        if i1 <= i0:
            return out
        cur = self.poses[i0:i1]
        prev = self.poses[i0 - 1 : i1 - 1]
        same = (cur[:, :, 0] == prev[:, :, 0]) & (cur[:, :, 1] == prev[:, :, 1]) & (cur[:, :, 0] >= 0)
        # "busy" = carrying or on a trip: waits of parked or charging units are not congestion
        t_states, u_states, s_states = self._state_changes()
        busy_units = np.zeros(len(self.unit_ids), bool)
        st = self.unit_states(t_s)
        busy_units[(st == TO_POD) | (st == CARRYING)] = True
        wait = same & ((cur[:, :, 3] >= 0) | busy_units[None, :])
        r, c = cur[:, :, 0][wait], cur[:, :, 1][wait]
        # in steps: a big fleet records every few steps (`RunOptions.pose_every`)
        gap = np.maximum(1.0, np.rint(np.diff(self.pose_t[i0 - 1 : i1]) / self.step_s)).astype(np.float32)
        np.add.at(out, (r, c), np.broadcast_to(gap[:, None], wait.shape)[wait])
        # vetoed moves ("refused"), at the unit's cell at that time
        for k in np.nonzero((self.ev_t > t_s - window_s) & (self.ev_t <= t_s))[0]:
            if self.ev_kind[k] == "refused":
                u = self.unit_index.get(self.ev_subject[k])
                j = self.step_at(self.ev_t[k])
                if u is not None and j >= 0 and self.poses[j, u, 0] >= 0:
                    out[self.poses[j, u, 0], self.poses[j, u, 1]] += 1.0
        return out

    def kpi_series(self, column: str, t_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(minutes, values) of a KPI column, up to ``t_s`` when given."""
        m = self.kpi.get("minute", np.zeros(0))
        v = self.kpi.get(column, np.zeros(len(m)))
        if t_s is not None and len(m):
            keep = self.kpi["t_s"] <= t_s + 1e-9
            return m[keep], v[keep]
        return m, v

    def kpi_row_at(self, t_s: float) -> dict:
        """The last KPI minute at or before ``t_s`` ({} before the first)."""
        ts = self.kpi.get("t_s", np.zeros(0))
        k = int(np.searchsorted(ts, t_s + 1e-9, side="right")) - 1
        if k < 0:
            return {}
        return {c: float(v[k]) for c, v in self.kpi.items() if len(v) > k}
