"""The Python API: ``fctwin.run(...)`` from a script or a notebook, no ``__main__`` guard needed.

    import fctwin
    r = fctwin.run("fc_small", hours=0.5, seed=3, overrides={"orders.rate_per_h": 700})
    r.kpis["units_picked_per_h"]
    r.kpi_minutes()   # one row per simulated minute
    r.events()        # the dispatcher's task events
    r.poses()         # every drive unit's pose at every step (fleets up to 100 units by default)

Tables are pandas DataFrames when pandas is installed, otherwise dicts of equal-length lists
(``{"column": [...]}``), so nothing here needs pandas. docs/api.md has the whole surface.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fctwin.sim.run import RunOptions, prepare_scene, run_fc
from fctwin.sim.runstore import KPI_COLUMNS, KPI_STATION_COLUMNS, read_poses
from fctwin.sim.scene import Scene, SceneError
from fctwin.sim.scene.catalog import ShippedScene, resolve_scene, shipped_scenes

__all__ = ["RunResult", "list_scenes", "load_scene", "run"]

EVENT_COLUMNS = ("t_s", "kind", "subject", "a", "b", "c")
POSE_COLUMNS = ("step", "unit_id", "row", "col", "heading", "pod")


def _table(columns: dict[str, list], as_frame: bool | None) -> Any:
    if as_frame is False:
        return columns
    try:
        import pandas as pd
    except ImportError:
        if as_frame:
            raise ImportError("as_frame=True needs pandas (pip install pandas)") from None
        return columns
    return pd.DataFrame(columns)


@dataclass(frozen=True)
class RunResult:
    """What a run gave: its KPIs, and accessors for what its run store holds."""

    run_id: str
    db_path: Path
    kpis: dict
    wall_s: float

    def _query(self, sql: str) -> list[tuple]:
        db = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()

    def meta(self) -> dict:
        """The run's metadata: scene text, seed, version, command line, unit ids, ..."""
        out = {}
        for key, value in self._query("SELECT key, value FROM meta"):
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = value
        return out

    def kpi_minutes(self, *, as_frame: bool | None = None) -> Any:
        """One row per simulated minute (the columns of `fctwin.sim.runstore.KPI_COLUMNS`)."""
        rows = self._query(f"SELECT {', '.join(KPI_COLUMNS)} FROM kpi_minute ORDER BY minute")
        return _table({c: [r[k] for r in rows] for k, c in enumerate(KPI_COLUMNS)}, as_frame)

    def station_kpi_minutes(self, *, as_frame: bool | None = None) -> Any:
        """One row per simulated minute and station group (unit type, line kind): the columns of
        `fctwin.sim.runstore.KPI_STATION_COLUMNS` (docs/export.md)."""
        cols = ", ".join(KPI_STATION_COLUMNS)
        rows = self._query(f"SELECT {cols} FROM kpi_station_minute ORDER BY minute, station_type, kind")
        return _table({c: [r[k] for r in rows] for k, c in enumerate(KPI_STATION_COLUMNS)}, as_frame)

    def recommendations(self, *, as_frame: bool | None = None) -> Any:
        """The floor manager's recommendations (and the shift lead's actions): time, kind, text,
        applied, and the whole record as JSON (predicted and realised effect, evidence)."""
        cols = ("t_s", "kind", "text", "applied", "data")
        rows = self._query(f"SELECT {', '.join(cols)} FROM recommendations ORDER BY id")
        return _table({c: [r[k] for r in rows] for k, c in enumerate(cols)}, as_frame)

    def digests(self) -> list[dict]:
        """The state digest of every simulated minute (with its forecasts), as dicts."""
        return [json.loads(d) for (d,) in self._query("SELECT data FROM digest_minute ORDER BY minute")]

    def events(self, *, as_frame: bool | None = None) -> Any:
        """The dispatcher's task events in order: time, kind, subject (unit or station) and a, b, c."""
        rows = self._query(f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY id")
        return _table({c: [r[k] for r in rows] for k, c in enumerate(EVENT_COLUMNS)}, as_frame)

    def poses(self, *, as_frame: bool | None = None) -> Any:
        """Drive-unit poses in long form: one row per unit and recorded step (empty if not recorded)."""
        unit_ids = self.meta().get("unit_ids", [])
        steps, data = read_poses(self.db_path, len(unit_ids))
        cols: dict[str, list] = {c: [] for c in POSE_COLUMNS}
        for t, step in enumerate(steps.tolist()):
            for k, uid in enumerate(unit_ids):
                row, col, heading, pod = data[t, k].tolist()
                cols["step"].append(step)
                cols["unit_id"].append(uid)
                cols["row"].append(row)
                cols["col"].append(col)
                cols["heading"].append(heading)
                cols["pod"].append(pod)
        return _table(cols, as_frame)


def load_scene(
    scene: str | Path,
    *,
    seed: int | None = None,
    hours: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Scene:
    """A validated scene from a path or a shipped scene's name, with overrides; raises `SceneError`."""
    try:
        path = resolve_scene(scene)
    except FileNotFoundError as exc:
        raise SceneError(str(scene), [("", str(exc))]) from None
    _, loaded = prepare_scene(path, RunOptions(seed=seed, hours=hours, overrides=dict(overrides or {})))
    return loaded


def list_scenes() -> list[ShippedScene]:
    """The scenes shipped with fctwin (name, kind, description, path)."""
    return shipped_scenes()


def run(
    scene: str | Path | Scene = "fc_small",
    *,
    hours: float | None = None,
    seed: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    link: str = "zmq",
    runs_dir: str | Path = "runs",
    run_id: str | None = None,
    planner: str | None = None,
    record_poses: bool | None = None,
    progress: Callable[[dict], None] | None = None,
    cpu: str | int = "auto",
    agent: str | None = None,
) -> RunResult:
    """Run a scene headless and return its `RunResult`.

    ``scene``: a shipped scene's name (``"fc_small"``), a path to a TOML file, or a `Scene` from
    `fctwin.load_scene`. ``overrides``: field paths as validation errors print them
    (``{"fleet[0].count": 20}``). ``link``: ``"zmq"`` (the fleet host as its own program, as
    `fctwin run` does) or ``"local"`` (in this process; same event log). ``progress`` is called
    with each minute's KPI row. ``agent``: who manages the floor, ``"off"``, ``"advise"``, ``"auto"``
    or ``"reactive"`` (None: the scene's ``[agent] mode``; docs/eluna.md); ``"advise"`` and
    ``"auto"`` run the fleet host in this process without PyBullet bodies, so the agent can fork
    the run for its lookahead. Raises `SceneError` for a bad scene or override.
    """
    if link not in ("zmq", "local"):
        raise ValueError(f"link must be 'zmq' or 'local', not {link!r}")
    if isinstance(scene, str | Path):
        try:
            scene = resolve_scene(scene)
        except FileNotFoundError as exc:
            raise SceneError(str(scene), [("", str(exc))]) from None
    opts = RunOptions(
        hours=hours,
        seed=seed,
        overrides=dict(overrides or {}),
        link=link,
        runs_dir=Path(runs_dir),
        run_id=run_id,
        planner=planner,
        record_poses=record_poses,
        cpu=cpu,
        agent=agent,
        command_line=["fctwin.run"],
    )
    if agent in ("advise", "auto"):
        opts.link, opts.world = "local", False
    r = run_fc(scene, opts, progress=progress)
    return RunResult(run_id=r.run_id, db_path=r.db_path, kpis=r.kpis, wall_s=r.wall_s)
