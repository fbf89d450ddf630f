"""`fctwin runs [RUN_ID]`: list the runs in the run directory, or show one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("runs", help="list runs, or show one run's KPIs", description=__doc__)
    p.add_argument("run_id", nargs="?", help="a run id (or a unique prefix) to show")
    p.add_argument("--runs-dir", default="runs", help="where run databases are (default: ./runs)")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=runs_command)


def _summary(db: Path) -> tuple[dict, dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        meta = {
            k: v
            for k, v in con.execute("SELECT key, value FROM meta WHERE key != 'scene_text' AND key != 'grid'")
        }
        summary = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM summary")}
        if not summary:  # interrupted run: report the last completed minute
            row = con.execute("SELECT * FROM kpi_minute ORDER BY minute DESC LIMIT 1").fetchone()
            if row:
                cols = [d[0] for d in con.execute("SELECT * FROM kpi_minute LIMIT 0").description]
                summary = {"status": "interrupted", **dict(zip(cols, row, strict=True))}
    finally:
        con.close()
    return meta, summary


def runs_command(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from fctwin.sim.cli import UsageError
    from fctwin.sim.cli.render import kpi_table

    root = Path(args.runs_dir)
    dbs = sorted(root.glob("*/run.sqlite")) if root.exists() else []
    if args.run_id:
        match = [d for d in dbs if d.parent.name.startswith(args.run_id)]
        if not match:
            raise UsageError(f"no run {args.run_id!r} in {root}")
        if len(match) > 1:
            raise UsageError(f"{args.run_id!r} matches {len(match)} runs; give more of the id")
        meta, summary = _summary(match[0])
        if args.json:
            print(json.dumps({"meta": meta, "kpis": summary}, indent=2))
        else:
            kpi_table(summary, title=f"run {match[0].parent.name}")
            print(f"command line: {meta.get('command_line', '')}")
        return 0
    rows = []
    for db in dbs:
        try:
            meta, summary = _summary(db)
        except sqlite3.DatabaseError:
            continue
        rows.append((db.parent.name, meta, summary))
    if args.json:
        print(json.dumps([{"run_id": r, "scene": m.get("scene_name"), **s} for r, m, s in rows], indent=2))
        return 0
    table = Table(title=f"runs in {root}")
    for col in ("run id", "scene", "seed", "sim h", "units picked/h", "orders", "status"):
        table.add_column(col)
    for run_id, meta, s in rows:
        table.add_row(
            run_id,
            meta.get("scene_name", "?"),
            meta.get("seed", "?"),
            str(s.get("simulated_h", round(s.get("t_s", 0) / 3600, 2))),
            str(s.get("units_picked_per_h", "")),
            str(s.get("orders_completed", "")),
            s.get("status", "complete"),
        )
    Console().print(table)
    return 0
