"""`fctwin export RUN`: a run store as Parquet or CSV tables with named columns (docs/export.md).

Tables: ``events`` (the task events with named columns beside the raw a, b, c), ``kpi_minute``,
``poses`` (long form: one row per unit and recorded step), ``recommendations``, ``meta`` and
``summary`` (key, JSON value). Parquet needs pyarrow (`pip install fctwin[export]`); CSV needs nothing.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

__all__ = ["EVENT_FIELDS", "NAMED_EVENT_COLUMNS", "export_run", "named_events"]

# What a, b and c mean for each event kind (subject is a unit id, a station id or "").
EVENT_FIELDS: dict[str, tuple[str | None, str | None, str | None]] = {
    "order_arrived": ("order_id", "n_lines", None),
    "order_assigned": ("order_id", None, None),
    "carton_ready": ("carton_id", "sku", "units"),
    "trip_created": ("trip_id", "pod", "n_lines"),
    "trip_assigned": ("trip_id", "pod", None),
    "lifted": ("trip_id", "pod", None),
    "at_station": ("trip_id", "pod", "station_index"),
    "leave_station": ("trip_id", "pod", "station_index"),
    "trip_done": ("trip_id", "pod", "seconds"),
    "line_picked": ("order_id", "sku", "units"),
    "order_done": ("order_id", None, "seconds"),
    "carton_stowed": ("carton_id", "sku", "units"),
    "line_backordered": ("order_id", "sku", "units"),
    "backorder_released": ("order_id", "sku", "units"),
    "po_created": ("po_id", "sku", "units"),
    "refused": ("command_id", None, None),
    "aborted": ("command_id", "phase_or_trip", None),
    "overweight": ("trip_id", "pod", None),
    "trip_handed_back": ("trip_id", "pod", "phase_or_trip"),  # its unit failed: lines back to the station
    "trip_withdrawn": ("trip_id", "pod", "phase_or_trip"),  # its station was drained (closures.py)
    "withdraw_sent": ("trip_id", "pod", "n_lines"),  # the face trip's serves asked back (subject: station)
    "pod_returned": ("trip_id", "pod", None),
    "order_moved": ("order_id", "station_index", "n_lines"),  # from station_index to the subject
    "to_charge": (None, None, None),
    "unit_failed": (None, None, None),
    "unit_recovered": (None, None, None),
    "rec_accepted": ("rec_id", None, None),
    "rec_rejected": ("rec_id", None, None),
}

NAMED_EVENT_COLUMNS = (
    "event_id",
    "t_s",
    "kind",
    "subject",
    "unit_id",
    "station_id",
    "order_id",
    "carton_id",
    "trip_id",
    "pod",
    "sku",
    "units",
    "n_lines",
    "station_index",
    "seconds",
    "po_id",
    "command_id",
    "phase_or_trip",
    "rec_id",
    "a",
    "b",
    "c",
)
_INT_COLUMNS = {
    c
    for c in NAMED_EVENT_COLUMNS
    if c not in ("t_s", "kind", "subject", "unit_id", "station_id", "seconds", "c")
}


def named_events(db: sqlite3.Connection) -> dict[str, list]:
    """The events table with named columns (None where a kind has no such field)."""
    units = set(json.loads(dict(db.execute("SELECT key, value FROM meta")).get("unit_ids", "[]")))
    cols: dict[str, list] = {c: [] for c in NAMED_EVENT_COLUMNS}
    named = NAMED_EVENT_COLUMNS[6:-3]
    for eid, t_s, kind, subject, a, b, c in db.execute(
        "SELECT id, t_s, kind, subject, a, b, c FROM events ORDER BY id"
    ):
        fields = EVENT_FIELDS.get(kind, (None, None, None))
        row = dict.fromkeys(named)
        for name, value in zip(fields, (a, b, c), strict=True):
            if name is not None:
                row[name] = int(value) if name in _INT_COLUMNS and value is not None else value
        cols["event_id"].append(eid)
        cols["t_s"].append(t_s)
        cols["kind"].append(kind)
        cols["subject"].append(subject)
        is_unit = subject in units
        cols["unit_id"].append(subject if is_unit else None)
        cols["station_id"].append(subject if subject and not is_unit and subject != "console" else None)
        for name in named:
            cols[name].append(row[name])
        cols["a"].append(a)
        cols["b"].append(b)
        cols["c"].append(c)
    return cols


def _query(db: sqlite3.Connection, sql: str) -> dict[str, list]:
    cur = db.execute(sql)
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    return {n: [r[k] for r in rows] for k, n in enumerate(names)}


def _poses(db: sqlite3.Connection) -> dict[str, list]:
    import numpy as np

    from fctwin.sim.runstore import decode_poses, pose_encoding

    unit_ids = json.loads(dict(db.execute("SELECT key, value FROM meta")).get("unit_ids", "[]"))
    n = len(unit_ids)
    rows = db.execute("SELECT step, t_s, data FROM poses ORDER BY step").fetchall()
    if not rows or n == 0:
        return {c: [] for c in ("step", "t_s", "unit_id", "row", "col", "heading", "pod")}
    data = decode_poses([r[2] for r in rows], n, pose_encoding(db))
    steps = np.repeat(np.array([r[0] for r in rows]), n)
    ts = np.repeat(np.array([r[1] for r in rows]), n)
    return {
        "step": steps.tolist(),
        "t_s": ts.tolist(),
        "unit_id": unit_ids * len(rows),
        "row": data[:, :, 0].ravel().tolist(),
        "col": data[:, :, 1].ravel().tolist(),
        "heading": data[:, :, 2].ravel().tolist(),
        "pod": data[:, :, 3].ravel().tolist(),
    }


def _tables(db: sqlite3.Connection, with_poses: bool) -> dict[str, dict[str, list]]:
    existing = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    out = {
        "events": named_events(db),
        "kpi_minute": _query(db, "SELECT * FROM kpi_minute ORDER BY minute"),
        "meta": _query(db, "SELECT key, value FROM meta WHERE key != 'grid' ORDER BY key"),
        "summary": _query(db, "SELECT key, value FROM summary ORDER BY key"),
    }
    if "kpi_station_minute" in existing:  # run stores written before this table existed have none
        out["kpi_station_minute"] = _query(
            db, "SELECT * FROM kpi_station_minute ORDER BY minute, station_type, kind"
        )
    if "recommendations" in existing:
        out["recommendations"] = _query(
            db, "SELECT rec_id, t_s, kind, text, applied, data FROM recommendations ORDER BY id"
        )
    if "recommendation_decisions" in existing:
        out["recommendation_decisions"] = _query(
            db,
            "SELECT rec_id, decision, t_s, source, wall_utc, outcome"
            " FROM recommendation_decisions ORDER BY id",
        )
    if "station_lines" in existing:
        out["station_lines"] = _query(
            db,
            "SELECT station AS station_id, start_s, end_s, units, to_person FROM station_lines ORDER BY id",
        )
    if with_poses:
        out["poses"] = _poses(db)
    return out


def export_run(db_path: Path, out_dir: Path, fmt: str = "parquet", *, poses: bool = True) -> list[Path]:
    """Write every table of the run at ``db_path`` into ``out_dir`` as ``<table>.<fmt>``.

    ``fmt`` is "parquet" or "csv". Returns the files written. Raises `ValueError` for another
    format and `ImportError` (with the install hint) for parquet without pyarrow.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format must be parquet or csv, not {fmt!r}")
    if fmt == "parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError("--format parquet needs pyarrow: pip install 'fctwin[export]'") from None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tables = _tables(db, poses)
    finally:
        db.close()
    written = []
    for name, cols in tables.items():
        path = out_dir / f"{name}.{fmt}"
        if fmt == "parquet":
            pq.write_table(pa.table(cols), path)
        else:
            with path.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(cols.keys())
                w.writerows(zip(*cols.values(), strict=True))
        written.append(path)
    return written
