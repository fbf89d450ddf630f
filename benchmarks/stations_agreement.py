"""Fast station models against physics stations on the same scene and seed, per station type.

    fctwin run scenes/fc_stations.toml --hours 0.75 --seed 7 --runs-dir runs_fast
    fctwin run scenes/fc_stations.toml --physics stations --hours 0.75 --seed 7 --runs-dir runs_phys
    python benchmarks/stations_agreement.py runs_fast/<run>/run.sqlite runs_phys/<run>/run.sqlite

Both run stores are read up to the same simulated minute (the shorter run's last whole minute, or
``--minutes``), so an interrupted physics run still compares. Per station type and line kind: lines,
units, units per hour, units handed to people (and their share of the units), and the line cycle
time (mean and median of a line's end - start from `station_lines`, and seconds per unit: the lines'
summed duration over their units).
Only lines that ended by the cut-off count. Prints the machine's load average with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from pathlib import Path

import numpy as np


def read_run(db_path: Path) -> dict:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    floor = json.loads(meta["floor"]) if isinstance(meta["floor"], str) else meta["floor"]
    kind_of = {s["id"]: (s["unit"], s["kind"]) for s in floor["stations"]}
    lines = db.execute("SELECT station, start_s, end_s, units, to_person FROM station_lines").fetchall()
    last_minute = db.execute("SELECT max(minute) FROM kpi_station_minute").fetchone()[0] or 0
    db.close()
    return {"kind_of": kind_of, "lines": lines, "last_minute": int(last_minute), "seed": meta.get("seed")}


def by_group(run: dict, until_s: float) -> dict:
    out: dict[tuple[str, str], dict] = {}
    for station, start, end, units, to_person in run["lines"]:
        if end > until_s:
            continue
        g = out.setdefault(run["kind_of"][station], {"lines": 0, "units": 0, "to_person": 0, "dur": []})
        g["lines"] += 1
        g["units"] += units
        g["to_person"] += to_person
        g["dur"].append(end - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("fast_db", type=Path)
    ap.add_argument("physics_db", type=Path)
    ap.add_argument("--minutes", type=int, default=None, help="compare up to this minute")
    args = ap.parse_args()
    fast, phys = read_run(args.fast_db), read_run(args.physics_db)
    minutes = args.minutes or min(fast["last_minute"], phys["last_minute"])
    until_s = 60.0 * minutes
    groups = [by_group(fast, until_s), by_group(phys, until_s)]
    print(
        f"fast vs physics stations, first {minutes} simulated minutes (seed {fast['seed']} / {phys['seed']})"
    )
    print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    head = (
        f"{'type':8s} {'kind':5s} | {'lines':>11s} | {'units':>11s} | {'units/h':>11s} | {'to people':>11s}"
        f" | {'to people %':>11s} | {'mean line s':>13s} | {'median line s':>13s} | {'s per unit':>11s}"
    )
    print(head)
    print("-" * len(head))
    total = [0, 0]
    for key in sorted(set(groups[0]) | set(groups[1])):
        rows = [g.get(key, {"lines": 0, "units": 0, "to_person": 0, "dur": []}) for g in groups]

        def pair(fmt, f, rows=rows) -> str:
            a, b = (f(r) for r in rows)
            return f"{fmt(a):>5s} {fmt(b):>5s}"

        num = lambda x: "-" if x is None else f"{x:.0f}"  # noqa: E731
        one = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
        mean = lambda r: float(np.mean(r["dur"])) if r["dur"] else None  # noqa: E731
        med = lambda r: float(np.median(r["dur"])) if r["dur"] else None  # noqa: E731
        per_unit = lambda r: float(np.sum(r["dur"]) / r["units"]) if r["units"] else None  # noqa: E731
        share = lambda r: 100.0 * r["to_person"] / r["units"] if r["units"] else None  # noqa: E731
        if key[1] == "pick":
            total = [total[0] + rows[0]["units"], total[1] + rows[1]["units"]]
        print(
            f"{key[0]:8s} {key[1]:5s} | {pair(num, lambda r: r['lines'])} | {pair(num, lambda r: r['units'])}"
            f" | {pair(num, lambda r: r['units'] * 3600 / until_s)} | {pair(num, lambda r: r['to_person'])}"
            f" | {pair(num, share)} | {pair(one, mean):>13s} | {pair(one, med):>13s}"
            f" | {pair(one, per_unit):>11s}"
        )
    gap = abs(total[0] - total[1]) / max(1, total[1])
    print(
        f"units picked: {total[0]} fast vs {total[1]} physics ({gap:.0%} apart);"
        " columns are fast then physics"
    )


if __name__ == "__main__":
    main()
