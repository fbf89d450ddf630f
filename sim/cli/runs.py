"""`fctwin runs [RUN_ID]`: list the runs in the run directory, or show one.

A run store can be damaged in many ways (a crash mid-write, a truncated copy, a file edited by
hand, a newer or older version): such a run is listed as damaged with the reason, never a crash,
and one bad value shows as it is instead of ending the whole listing.
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from types import SimpleNamespace

from fctwin.sim.cli import args as types


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list runs, or show one run's KPIs", description=__doc__)
    p.add_argument("run_id", nargs="?", help="a run id (or a unique prefix) to show")
    p.add_argument(
        "--runs-dir", type=types.runs_dir, default="runs", help="where run databases are (default: ./runs)"
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=runs_command)


def _decode(value):
    """A stored value: JSON if it is JSON, else as stored; bytes (never written by us) as a note."""
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _summary(db: Path) -> tuple[dict, dict]:
    """(meta, summary) of one run store; raises `sqlite3.Error` or `OSError` if it cannot be read."""
    if not db.is_file():
        raise sqlite3.DatabaseError("run.sqlite is not a file")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
    try:
        meta = {
            str(k): _decode(v)
            for k, v in con.execute("SELECT key, value FROM meta WHERE key != 'scene_text' AND key != 'grid'")
        }
        summary = {str(k): _decode(v) for k, v in con.execute("SELECT key, value FROM summary")}
        if not summary:  # interrupted run: report the last completed minute
            cur = con.execute("SELECT * FROM kpi_minute ORDER BY minute DESC LIMIT 1")
            row = cur.fetchone()
            if row:
                cols = [d[0] for d in cur.description]
                summary = {"status": "interrupted", **dict(zip(cols, row, strict=True))}
            else:
                summary = {"status": "interrupted"}
    finally:
        con.close()
    return meta, summary


def _text(value, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    if isinstance(value, dict | list):
        return json.dumps(value)[:40]
    return str(value)[:60]


def _hours(s: dict) -> str:
    value = s.get("simulated_h")
    if value is None:
        t = s.get("t_s")
        if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t):
            value = round(t / 3600, 2)
    return _text(value)


def _plain(value):
    """JSON-safe: non-finite floats as strings (json.dumps would write NaN, which is not JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def runs_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from fctwin.sim.cli import UsageError
    from fctwin.sim.cli.render import kpi_table
    from fctwin.sim.cli.run import print_eluna

    root = Path(args.runs_dir)
    try:
        dbs = sorted(root.glob("*/run.sqlite")) if root.is_dir() else []
    except OSError as exc:
        raise UsageError(f"--runs-dir {root}: cannot list: {exc.strerror}") from None
    if args.run_id:
        match = [d for d in dbs if d.parent.name.startswith(args.run_id)]
        if not match:
            raise UsageError(f"no run {args.run_id!r} in {root}")
        if len(match) > 1:
            raise UsageError(f"{args.run_id!r} matches {len(match)} runs; give more of the id")
        try:
            meta, summary = _summary(match[0])
        except (sqlite3.Error, OSError) as exc:
            raise UsageError(f"run {match[0].parent.name} is damaged: {exc}") from None
        if args.json:
            print(json.dumps(_plain({"meta": meta, "kpis": summary}), indent=2))
        else:
            kpi_table(summary, title=f"run {match[0].parent.name}")
            # the floor manager's lines, as `fctwin run` printed them (per shift, recommendations)
            print_eluna(SimpleNamespace(kpis=summary, db_path=match[0]))
            print(f"command line: {_text(meta.get('command_line'))}")
        return 0
    rows = []
    for db in dbs:
        try:
            meta, summary = _summary(db)
        except (sqlite3.Error, OSError, ValueError) as exc:
            meta, summary = {}, {"status": f"damaged: {exc}"}
        if not isinstance(summary.get("status", ""), str):
            summary["status"] = _text(summary["status"])
        rows.append((db.parent.name, meta, summary))
    if args.json:
        out = [{"run_id": r, "scene": m.get("scene_name"), **s} for r, m, s in rows]
        print(json.dumps(_plain(out), indent=2, default=str))
        return 0
    table = Table(title=f"runs in {root}")
    for col in ("run id", "scene", "seed", "sim h", "units picked/h", "orders", "status"):
        table.add_column(col)
    for run_id, meta, s in rows:
        table.add_row(
            run_id,
            _text(meta.get("scene_name"), "?"),
            _text(meta.get("seed"), "?"),
            _hours(s),
            _text(s.get("units_picked_per_h")),
            _text(s.get("orders_completed")),
            _text(s.get("status"), "complete"),
        )
    Console().print(table)
    return 0
