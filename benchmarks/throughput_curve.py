"""Drive units vs units picked per hour on fc_small_peak (fc_small at saturation): rises with robots,
saturates at the stations.

    python benchmarks/throughput_curve.py [--hours 1] [--counts 4,8,16,24,32,48] [--planner NAME]

Writes docs/img/throughput_curve.png and prints the table beside RAWSim-O's measured curve
(FACTS.md: 8/16/32/64 robots -> 405/684/1,150/1,369 items/h with 4 pick stations, 10 s per item).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import tomllib
from pathlib import Path

from fctwin.sim.run import RunOptions, run_fc

ROOT = Path(__file__).resolve().parents[1]

RAWSIM = {8: 405, 16: 684, 32: 1150, 64: 1369}


def scene_with_units(count: int, planner: str | None, tmp: Path) -> Path:
    text = (ROOT / "scenes" / "fc_small_peak.toml").read_text()  # saturated: the curve is capacity
    raw = tomllib.loads(text)
    old = raw["fleet"][0]["count"]
    text = text.replace(f"count = {old}\nid_prefix", f"count = {count}\nid_prefix", 1)
    path = tmp / f"fc_small_{count}.toml"
    path.write_text(text)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--counts", default="4,8,16,24,32,48")
    ap.add_argument("--planner", default=None)
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "throughput_curve.png"))
    args = ap.parse_args()
    counts = [int(x) for x in args.counts.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in counts:
            path = scene_with_units(n, args.planner, tmp)
            res = run_fc(
                path,
                RunOptions(
                    hours=args.hours, runs_dir=tmp, link="local", planner=args.planner, record_poses=False
                ),
            )
            k = res.kpis
            rows.append(
                (n, k["units_picked_per_h"], k["pick_station_utilisation"], k["drive_unit_utilisation"])
            )
            print(
                f"{n:4d} units: {k['units_picked_per_h']:7.0f} units/h"
                f"  pick stations {k['pick_station_utilisation']:.0%} busy",
                flush=True,
            )
    print(f"\n{'units':>5} {'ours units/h':>13} {'RAWSim-O items/h':>17} {'station util':>13}")
    for n, uph, su, _ in rows:
        print(f"{n:5d} {uph:13.0f} {RAWSIM.get(n, ''):>17} {su:13.0%}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot([r[0] for r in rows], [r[1] for r in rows], "o-", label="fctwin fc_small (4 pick stations)")
    ax.plot(list(RAWSIM), list(RAWSIM.values()), "s--", label="RAWSim-O (4 pick stations, FACTS.md)")
    ax.axhline(
        4 * 3600 / 12.0,
        color="grey",
        lw=0.8,
        ls=":",
        label="station limit (~12 s per unit incl. pod changes)",
    )
    ax.set_xlabel("drive units")
    ax.set_ylabel("units picked per hour")
    ax.set_title(f"Throughput vs fleet size ({args.hours:g} h simulated per point)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"plot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
