"""Sweep scaling on this machine: 1 vs 2 pool workers, a local Ray with 2 CPUs, and the cost per run
against plain `fctwin run` processes.

    python benchmarks/sweep.py [--hours 2] [--seeds 4] [--counts 10,20] [--skip-ray]

One grid (fc_small_peak, the speed benchmarks' scene: fleet sizes x seeds) is run four ways:

- plain: one `fctwin run --json` process after another (what a shell loop does);
- pool 1 / pool 2: `fctwin sweep`'s process pool with 1 and 2 workers;
- ray 2: a local Ray with 2 CPUs (its start-up timed apart).

Per-run overhead is wall time per run minus the run's own simulation wall (`wall_s`, from the
dispatcher's start to the last tick): process start, imports, compiled-kernel loading, scene
loading, store writes and, for sweeps, scheduling. With 2 workers on 2 cores the ideal speed-up
is 2x; the runs' own wall grows when two share the machine (memory bandwidth, caches, other users).
Never a timed test: figures vary about 20% run to run on shared machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fctwin.sim.experiments import (
    Grid,
    PoolBackend,
    RayBackend,
    execute,
    parse_factor,
    plan_sweep,
)


def plain_runs(grid: Grid, hours: float, tmp: Path) -> tuple[float, list[float]]:
    walls = []
    t0 = time.perf_counter()
    for v in grid.variants():
        for seed in grid.seeds:
            sets = [a for path, value in v.overrides.items() for a in ("--set", f"{path}={value}")]
            res = subprocess.run(
                [sys.executable, "-m", "fctwin.sim.cli", "run", "fc_small_peak", "--hours", str(hours)]
                + ["--seed", str(seed), "--record-poses", "off", "--runs-dir", str(tmp), "--json", *sets],
                capture_output=True,
                text=True,
                check=True,
            )
            walls.append(json.loads(res.stdout)["wall_s"])
    return time.perf_counter() - t0, walls


def sweep(grid: Grid, hours: float, tmp: Path, name: str, backend) -> tuple[float, list[float]]:
    store = plan_sweep("fc_small_peak", grid, hours=hours, name=name, sweeps_dir=tmp)
    try:
        report = execute(store, backend)
        walls = [r.wall_s for r in store.runs("done")]
        assert report.done == len(walls) and report.failed == 0
        return report.wall_s, walls
    finally:
        backend.close()
        store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--counts", default="10,20")
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    grid = Grid.from_assignments([parse_factor(f"fleet[0].count={args.counts}")], seeds=range(args.seeds))
    n_runs = len(grid.variants()) * len(grid.seeds)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fctwin-bench-sweep-") as tmp:
        tmp = Path(tmp)
        # Warm the kernel cache once so no row pays numba's first compile.
        subprocess.run(
            [sys.executable, "-m", "fctwin.sim.cli", "run", "fc_small_peak", "--hours", "0.02", "--json"]
            + ["--runs-dir", str(tmp), "--record-poses", "off"],
            capture_output=True,
            check=True,
        )
        print(
            f"grid: fc_small_peak fleet {args.counts} x {args.seeds} seeds x {args.hours} h = {n_runs} runs",
            flush=True,
        )
        wall, walls = plain_runs(grid, args.hours, tmp)
        rows.append(("plain fctwin run x N", wall, walls, 1, None))
        print(f"  plain: {wall:.1f} s", flush=True)
        for workers in (1, 2):
            wall, walls = sweep(grid, args.hours, tmp, f"pool{workers}", PoolBackend(workers))
            rows.append((f"sweep, pool {workers}", wall, walls, workers, None))
            print(f"  pool {workers}: {wall:.1f} s", flush=True)
        if not args.skip_ray:
            t0 = time.perf_counter()
            backend = RayBackend("auto", num_cpus=2, object_store_mb=256)
            start = time.perf_counter() - t0
            wall, walls = sweep(grid, args.hours, tmp, "ray2", backend)
            rows.append(("sweep, local Ray 2 CPUs", wall, walls, 2, start))
            print(f"  ray 2: {wall:.1f} s (+ {start:.1f} s Ray start)", flush=True)
    base = rows[0][1]
    print()
    print(
        f"{'how':<26} {'wall s':>7} {'runs/min':>8} {'speed-up':>8} {'run wall s':>10}"
        f" {'overhead s/run':>14} {'start s':>7}"
    )
    for how, wall, walls, slots, start in rows:
        mean_run = statistics.mean(walls)
        # Each slot spends wall*slots/n_runs per run; what is not the run's own simulation is overhead.
        overhead = wall * slots / n_runs - mean_run
        print(
            f"{how:<26} {wall:7.1f} {60 * n_runs / wall:8.1f} {base / wall:7.2f}x {mean_run:10.2f}"
            f" {overhead:14.2f} {'' if start is None else f'{start:7.1f}'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
