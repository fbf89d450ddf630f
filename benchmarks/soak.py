"""Long runs stay healthy: fc_small for 7 simulated days, fc_large for 24 h.

    python benchmarks/soak.py [--days-small 7] [--hours-large 24] [--seed S] [--skip-large] [--link local|zmq]

Prints, per simulated hour: units picked beside units ordered (demand), units stowed, orders open,
lines backordered (waiting for stock, not holding a station), units in stock, SKUs out of stock,
and the resident memory of this process (and the fleet host's, over ZeroMQ). Then the checks the
trust issue asks for:

- no hour with zero picks while fillable orders are open (open orders that are not backorders);
- backlog bounded when demand is below capacity: orders open at the end of each day compared
  across days (fc_small, balanced);
- memory flat: RSS at the end of day 2 against the end of the run (fc_small).

Reference: the same run before the inventory loop closed (`fc_small` as it was, now `fc_small_peak`)
picked ~1,000 units/h for 14 h and then 609, 323, 0, 0, 0, 0, 0, 394, 98, 0 (seed 7).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

import fctwin


def rss_mb(pid: int | None = None) -> float:
    try:
        pages = int(Path(f"/proc/{pid or os.getpid()}/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return float("nan")
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def soak(scene: str, hours: float, seed: int | None, link: str, runs_dir: Path) -> dict:
    rss: list[float] = []

    def progress(row: dict) -> None:
        if int(row["minute"]) % 60 == 0:
            rss.append(rss_mb())

    r = fctwin.run(
        scene, hours=hours, seed=seed, link=link, runs_dir=runs_dir, record_poses=False, progress=progress
    )
    m = r.kpi_minutes(as_frame=False)
    minute = np.asarray(m["minute"], dtype=np.int64)
    at_hour = np.flatnonzero(minute % 60 == 0)

    def hourly(col: str) -> np.ndarray:
        v = np.asarray(m[col], dtype=np.float64)[at_hour]
        return np.diff(np.r_[0.0, v])

    def level(col: str) -> np.ndarray:
        return np.asarray(m[col], dtype=np.float64)[at_hour]

    return {
        "kpis": r.kpis,
        "picked": hourly("units_picked"),
        "ordered": hourly("units_ordered"),
        "stowed": hourly("units_stowed"),
        "open": level("orders_open"),
        "backordered": level("lines_backordered"),
        "stock": level("units_stored"),
        "out": level("skus_out_of_stock"),
        "rss": np.asarray(rss[: len(at_hour)]),
    }


def report(name: str, res: dict) -> bool:
    print(f"\n== {name}: {res['kpis']['simulated_h']:g} simulated hours, wall {res['kpis']['wall_s']:.0f} s")
    print(" hour  picked  ordered  stowed  open  backord  stock  out  rss_MB")
    n = len(res["picked"])
    for h in range(n):
        print(
            f"{h + 1:5d} {res['picked'][h]:7.0f} {res['ordered'][h]:8.0f} {res['stowed'][h]:7.0f}"
            f" {res['open'][h]:5.0f} {res['backordered'][h]:8.0f} {res['stock'][h]:6.0f}"
            f" {res['out'][h]:4.0f} {res['rss'][h] if h < len(res['rss']) else float('nan'):7.0f}"
        )
    fillable_open = res["open"] - res["backordered"]  # an upper bound on orders waiting for a station
    stalled = [h + 1 for h in range(n) if res["picked"][h] == 0 and fillable_open[h] > 0]
    k = res["kpis"]
    print(
        f"totals: {k['units_picked_per_h']:.0f} units picked/h, {k['units_stowed_per_h']:.0f} stowed/h,"
        f" cycle p50 {k['order_cycle_p50_s']} s p95 {k['order_cycle_p95_s']} s,"
        f" lines backordered {k['lines_backordered']} (open at end {k['lines_backordered_open']}),"
        f" backorder wait p95 {k['backorder_wait_p95_s']} s,"
        f" conserved {k['units_conserved']}, collisions {k['collisions']}"
    )
    print(f"hours with zero picks while fillable orders were open: {stalled or 'none'}")
    if n >= 48:
        ends = [res["open"][d * 24 - 1] for d in range(1, n // 24 + 1)]
        print(f"orders open at the end of each day: {[int(x) for x in ends]}")
        if len(res["rss"]) >= 48:
            print(f"RSS end of day 2: {res['rss'][47]:.0f} MB, end of run: {res['rss'][-1]:.0f} MB")
    return not stalled and bool(k["units_conserved"]) and k["collisions"] == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days-small", type=float, default=7.0)
    ap.add_argument("--hours-large", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--link", choices=("local", "zmq"), default="local")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        ok &= report("fc_small", soak("fc_small", 24 * args.days_small, args.seed, args.link, Path(tmp)))
        if not args.skip_large:
            ok &= report("fc_large", soak("fc_large", args.hours_large, args.seed, args.link, Path(tmp)))
    print("\nsoak:", "healthy" if ok else "PROBLEMS (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
