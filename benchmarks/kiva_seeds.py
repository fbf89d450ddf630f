"""RHCR kiva.map throughput over several seeds, task-length weighted, beside RHCR's valid runs.

    python benchmarks/kiva_seeds.py [--agents 60 100 140 180 220] [--seeds 0 1 2 3 4] [--steps 1000]
                                    [--action-model grid|rotation] [--out kiva_seeds.json]
                                    [--planner-opt KEY=VALUE ...]

Runs ``benchmarks/mapf.py`` (its kiva preset, plus any ``--planner-opt``) for every fleet size and
seed and reports per size:
- the mean tasks per step over the seeds (raw);
- the task-length-weighted mean: each run's tasks per step times (mean 4-connected shortest length
  of the tasks it finished) / (mean shortest length between two random distinct endpoints, the
  benchmark's task distribution). A seed that happens to draw short tasks is scaled down, so the
  figure measures the planner, not the draw (at 60 robots, seeds 0-2 draw tasks of 22.4-23.2 steps);
- RHCR's best *valid* run at that size. RHCR's published PBS w=10 figures at 140 / 180 / 220 agents
  (1.43 / 0.94 / 0.45) come from runs its jam detector stopped early (140 agents: at step 505, 180:
  at 260; reproduced from RHCR's source), while throughput is still divided by 1,000 steps; they are
  not valid bars. Valid: PBS w=10 2.27 (60) and 3.31 (100); PBS w=20 4.52 (140). No valid RHCR run
  is known at 180 and 220.
A task's length is measured from where its robot stood when it was given the task (its start cell
or the previous endpoint) to its endpoint, in 4-connected steps (under ``--action-model rotation``
that ignores turns, so the weighting is approximate there).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from fctwin.controller.planning.instances import read_kiva_map

ROOT = Path(__file__).resolve().parents[1]
KIVA = ROOT.parent / "shared" / "benchmarks" / "mapf" / "rhcr" / "kiva.map"
# RHCR's best run that reached step 1,000 (PBS; Li et al., AAAI 2021, reproduced from RHCR's source)
RHCR_VALID = {60: (2.27, "PBS w=10"), 100: (3.31, "PBS w=10"), 140: (4.52, "PBS w=20")}
RHCR_STOPPED = {140: 1.43, 180: 0.94, 220: 0.45}  # PBS w=10, stopped early by RHCR's jam detector


def load_harness():
    spec = importlib.util.spec_from_file_location("mapf_harness", ROOT / "benchmarks" / "mapf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grid_distances(passable: np.ndarray) -> np.ndarray:
    """4-connected shortest steps between all free cells, ``float[H*W, H*W]`` (inf where blocked)."""
    H, W = passable.shape
    rows, cols = [], []
    for r, c in np.argwhere(passable):
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < H and 0 <= cc < W and passable[rr, cc]:
                rows.append(r * W + c)
                cols.append(rr * W + cc)
    graph = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(H * W, H * W))
    return shortest_path(graph, unweighted=True)


def finished_task_lengths(result: dict, width: int, dist: np.ndarray) -> np.ndarray:
    """Shortest length of every finished task: from the robot's previous endpoint (or start)."""
    where = {a: int(r) * width + int(c) for a, (r, c, *_) in enumerate(result["start"])}
    ends = {int(k): int(e[0][0]) * width + int(e[0][1]) for k, e in result["tasks"]}
    lengths = []
    for task, agent, _, _ in sorted(result["taskLog"], key=lambda row: (row[3], row[0])):
        lengths.append(dist[where[agent], ends[task]])
        where[agent] = ends[task]
    return np.array(lengths)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agents", type=int, nargs="+", default=[60, 100, 140, 180, 220])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--action-model", choices=("grid", "rotation"), default="grid")
    ap.add_argument("--map", default=str(KIVA))
    ap.add_argument("--out", default=None, help="write the per-run figures as JSON")
    ap.add_argument(
        "--planner-opt", action="append", default=[], metavar="KEY=VALUE",
        help="passed on to benchmarks/mapf.py (on top of its kiva preset), e.g. priority=delay",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if not Path(args.map).exists():
        print(f"kiva_seeds: map not found: {args.map}", file=sys.stderr)
        return 2
    harness = load_harness()
    kiva = read_kiva_map(args.map)
    W = kiva.passable.shape[1]
    dist = grid_distances(kiva.passable)
    ends = kiva.endpoints[:, 0] * W + kiva.endpoints[:, 1]
    pair = dist[np.ix_(ends, ends)]
    expected = pair[~np.eye(len(ends), dtype=bool)].mean()  # mean task length of the distribution
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.agents:
            for seed in args.seeds:
                out = Path(tmp) / f"k{n}_{seed}.json"
                cmd = [args.map, "--agents", str(n), "--seed", str(seed), "--steps", str(args.steps)]
                cmd += ["--action-model", args.action_model, "--out", str(out)]
                for kv in args.planner_opt:
                    cmd += ["--planner-opt", kv]
                with open(os.devnull, "w") as quiet:
                    stdout, sys.stdout = sys.stdout, quiet
                    try:
                        harness.main(cmd)
                    finally:
                        sys.stdout = stdout
                result = json.loads(out.read_text())
                lengths = finished_task_lengths(result, W, dist)
                tp = result["numTaskFinished"] / result["makespan"]
                rows.append(
                    {
                        "agents": n,
                        "seed": seed,
                        "tasks_per_step": tp,
                        "mean_task_length": float(lengths.mean()),
                        "weighted_tasks_per_step": tp * float(lengths.mean()) / expected,
                        "plan_sha256": result["meta"]["plan_sha256"],
                    }
                )
    print(
        f"kiva.map, {args.action_model} model, {args.steps} steps, seeds {args.seeds}; mean task length "
        f"of the distribution {expected:.2f} steps (4-connected)"
    )
    print("agents | mean tasks/step (min-max) | task-length weighted | RHCR best valid run | ours vs RHCR")
    for n in args.agents:
        sel = [r for r in rows if r["agents"] == n]
        raw = np.array([r["tasks_per_step"] for r in sel])
        wtd = np.array([r["weighted_tasks_per_step"] for r in sel])
        ref = RHCR_VALID.get(n)
        vs = f"{(wtd.mean() / ref[0] - 1) * 100:+.1f}%" if ref else "no valid RHCR run"
        ref_txt = f"{ref[0]:.2f} ({ref[1]})" if ref else "none"
        if n in RHCR_STOPPED:
            ref_txt += f"; w=10 {RHCR_STOPPED[n]:.2f} stopped early"
        spread = f"{raw.mean():.2f} ({raw.min():.2f}-{raw.max():.2f})"
        print(f"{n:6d} | {spread} | {wtd.mean():.2f} | {ref_txt} | {vs}")
    la, lb = load_before, os.getloadavg()
    print(f"machine load (1 min): {la[0]:.2f} before, {lb[0]:.2f} after")
    if args.out:
        Path(args.out).write_text(json.dumps({"expected_task_length": expected, "runs": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
