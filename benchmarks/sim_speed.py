"""Real-time factor and peak memory of FC runs, beside the RAWSim-O reference.

    python benchmarks/sim_speed.py [--hours-small 8] [--hours-large 1] [--link zmq|local] [--planner pibt]
                                   [--cpu auto|off|N]

Runs as `fctwin run` does: the fleet host in its own process over ZeroMQ, both processes on one CPU
(`--cpu off` lets the OS spread them, as before December 2026; see sim/affinity.py).

Reference (docs/references.md): RAWSim-O simulated 1.5 h with 32 robots in 30 s of wall clock with
its fastest planner (about 180x real time). Targets: fc_small_peak (fc_small at saturation, the
scene these figures were always measured on) 8 h in <= 20 s (>= 1,440x), fc_large
> 100x. Peak memory is the max RSS of this process and its children (the fleet host).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from fctwin.sim.affinity import parse_cpu_choice
from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours-small", type=float, default=8.0)
    ap.add_argument("--hours-large", type=float, default=1.0)
    ap.add_argument("--link", choices=("zmq", "local"), default="zmq")
    ap.add_argument("--planner", default=None)
    ap.add_argument("--cpu", default="auto", help="auto (default, as fctwin run), off, or a CPU number")
    ap.add_argument("--skip-large", action="store_true")
    args = ap.parse_args()
    rows = []
    cases = [("fc_small_peak", args.hours_small, 1440.0)]
    if not args.skip_large:
        cases.append(("fc_large", args.hours_large, 100.0))
    with tempfile.TemporaryDirectory() as tmp:
        for name, hours, target in cases:
            t0 = time.perf_counter()
            res = run_fc(
                ROOT / "scenes" / f"{name}.toml",
                RunOptions(
                    hours=hours,
                    runs_dir=Path(tmp),
                    link=args.link,
                    planner=args.planner,
                    record_poses=False,
                    cpu=parse_cpu_choice(args.cpu),
                ),
            )
            wall = time.perf_counter() - t0
            rows.append((name, hours, wall, hours * 3600 / wall, target, res.kpis, peak_rss_mb()))
    print(
        f"{'scene':10} {'sim h':>6} {'wall s':>8} {'x real time':>12} {'target':>8} {'units/h':>9}"
        f" {'planner ms':>10} {'peak MB':>8}"
    )
    for name, hours, wall, rtf, target, k, mb in rows:
        print(
            f"{name:10} {hours:6.2f} {wall:8.1f} {rtf:12.0f} {target:8.0f} {k['units_picked_per_h']:9.0f}"
            f" {k['planner_ms_per_step']:10.3f} {mb:8.0f}"
        )
    print("reference: RAWSim-O, 32 robots, 1.5 h in 30 s wall = ~180x real time (FACTS.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
