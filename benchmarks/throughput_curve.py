"""Drive units vs units picked per hour on fc_small_peak (fc_small at saturation), over seeds, beside
RAWSim-O's published curve.

    python benchmarks/throughput_curve.py [--hours 1] [--counts 4,8,16,24,32,48] [--seeds 5]
                                          [--planner NAME] [--workers N] [--out curve.png]

A thin front to `fctwin sweep` (docs/experiments.md): the fleet sizes x seeds on a process pool,
mean +/- 95% CI per size, the curve with its band and RAWSim-O's measured curve (8/16/32/64 robots ->
405/684/1,150/1,369 items/h with 4 pick stations, 10 s per item; docs/references.md). The sweep store
goes to a temporary folder; the plot to ``--out`` (default ./throughput_curve.png). The study in the
docs is ``fctwin sweep`` itself (docs/experiments.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from fctwin.sim.experiments import (
    Grid,
    PoolBackend,
    execute,
    parse_factor,
    plan_sweep,
    plot_curve,
    summary_rows,
)
from fctwin.sim.experiments.report import REFERENCES


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--counts", default="4,8,16,24,32,48")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--planner", default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default="throughput_curve.png")
    args = ap.parse_args()
    factors = [parse_factor(f"fleet[0].count={args.counts}")]
    if args.planner:
        factors.append(("dispatch.planner", [args.planner]))
    grid = Grid.from_assignments(factors, seeds=range(args.seeds))
    rawsim = REFERENCES["rawsim-o"][1]
    with tempfile.TemporaryDirectory(prefix="fctwin-curve-") as tmp:
        store = plan_sweep(
            "fc_small_peak",
            grid,  # saturated: the curve is capacity
            hours=args.hours,
            name="curve",
            sweeps_dir=tmp,
        )
        execute(store, PoolBackend(args.workers))
        print(f"{'units':>5} {'units picked/h':>15} {'95% CI':>9} {'RAWSim-O items/h':>17}")
        for row in summary_rows(store, "units_picked_per_h"):
            n = row["fleet[0].count"]
            print(f"{n:5d} {row['mean']:15.0f} {row['ci95']:9.0f} {rawsim.get(n, ''):>17}")
        print(f"plot: {plot_curve(store, args.out, reference='rawsim-o')}")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
