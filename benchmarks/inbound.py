"""Inbound model throughput: SKU-days per second for 10,000 SKUs x 365 days x 3 lanes (default scene).

Run: cd /work/main && /work/venv/bin/python benchmarks/inbound.py [--skus 10000] [--days 365] [--policy
base_stock]

References measured on a 2-core machine (FACTS / issue 6): SupplyNetPy about 8,000-10,000 node-days/s on a
3-node
chain; stockpyl about 500-860 periods/s. Our target: at least 1,000,000 SKU-days/s (that year in under 4 s).
Not a test: numbers vary with machine load; compare runs over time on the same machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fctwin.sim.inbound.network import simulate
from fctwin.sim.inbound.scene import load_scene, with_changes

ROOT = Path(__file__).resolve().parents[1]

REFERENCES = [
    ("SupplyNetPy, 3-node chain", "8,000-10,000 node-days/s"),
    ("stockpyl", "500-860 periods/s"),
    ("target (issue 6)", ">= 1,000,000 SKU-days/s"),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skus", type=int, default=10_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--policy", default="base_stock")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    scene = load_scene(ROOT / "scenes" / "inbound_default.toml")
    # the FC docks are sized for the scene's 300 SKUs: scale them with the catalogue so receiving is not the
    # story
    scale = args.skus / scene.catalogue.n_skus
    fcs = [
        {**f.model_dump(by_alias=True), "dock_capacity_units_per_day": f.dock_capacity_units_per_day * scale}
        for f in scene.fcs
    ]
    scene = with_changes(scene, {"catalogue.n_skus": args.skus, "days": args.days, "fcs": fcs})
    lanes = len(scene.lanes)
    simulated_days = scene.warmup_days + scene.days
    best = float("inf")
    for rep in range(args.repeat):
        t0 = time.perf_counter()
        res = simulate(scene, seed=1, rep=rep, policy=args.policy, history_skus=0)
        best = min(best, time.perf_counter() - t0)
    sku_days = args.skus * args.days
    print(
        f"inbound model: {args.skus:,} SKUs x {args.days} days x {lanes} lanes, flow {scene.network.flow}, "
        f"{len(res.node_names)} stock points, policy {args.policy}, {len(res.shipments):,} shipments"
    )
    print(
        f"  best of {args.repeat}: {best:.2f} s for the year (+ {scene.warmup_days} warm-up days simulated)"
    )
    print(
        f"  {sku_days / best:,.0f} SKU-days/s (KPI window); "
        f"{args.skus * simulated_days / best:,.0f} incl. warm-up"
    )
    print("references:")
    for name, figure in REFERENCES:
        print(f"  {name:<28} {figure}")


if __name__ == "__main__":
    main()
